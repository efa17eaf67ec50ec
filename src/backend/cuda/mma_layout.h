#pragma once
// The device layout of a ternary matrix for the CUDA products ("mma16"): the same 2-bit codes as
// TQ2_0 (code = weight + 1, in {0, 1, 2}), rearranged at load so that one 16-byte load per lane
// holds the int8 A fragments of four mma.m16n8k32 instructions. Still 2 bits per weight; only
// padding is added (rows to a multiple of 16, columns to a multiple of 128, with code 0).
//
// The matrix is cut into tiles of 16 rows x 128 columns, 512 bytes each, stored row-tile major:
// tile (R, u) at byte (R * units + u) * 512, units = ceil(cols / 128). In a tile, lane L = 4g + t
// (g < 8, t < 4) owns the 16 bytes at L * 16: four little-endian words, word kt (< 4) at
// L * 16 + kt * 4. Bits 8j + 2l .. 8j + 2l + 1 of word kt (j < 4, l < 4) hold the code of
//   row 16R + g + 8 * (l & 1), column 128u + 32t + 8kt + 4 * (l >> 1) + j.
// So (word >> 2l) & 0x03030303 is register a_l of the A fragment of k-step kt (rows g, g + 8, g,
// g + 8 for l = 0..3; the fragment's columns 4t + j and 16 + 4t + j map to the columns above).
// The products sum code * q and subtract the sum of q: a permutation of the columns inside a tile
// that the activations' B fragments follow (lane t reads 32 contiguous bytes of a token's row),
// which leaves every integer sum unchanged.
#include <cstdint>
#include <vector>

#include "kernels/ternary_format.h"

namespace mmfree::cuda {

constexpr int kTileRows = 16;
constexpr int kTileCols = 128;
constexpr int kTileBytes = kTileRows * kTileCols / 4;

constexpr int64_t row_tiles(int64_t rows) { return (rows + kTileRows - 1) / kTileRows; }
constexpr int64_t col_units(int64_t cols) { return (cols + kTileCols - 1) / kTileCols; }
// Columns of activations a product reads per row: cols rounded up to a whole tile.
constexpr int64_t padded_cols(int64_t cols) { return col_units(cols) * kTileCols; }
// Bytes of a rows x cols matrix in this layout; throws Error on sizes it cannot hold.
int64_t mma_bytes(int64_t rows, int64_t cols);

// Packs rows x cols values in {-1, 0, 1} (row-major) into out (mma_bytes bytes). Throws Error on
// a value outside {-1, 0, 1}.
void pack_mma(const int8_t* t, int64_t rows, int64_t cols, uint8_t* out);
// The same from a stored matrix in any format, unpacked 16 rows at a time.
std::vector<uint8_t> pack_mma(const TernaryMatrix& w);

}  // namespace mmfree::cuda

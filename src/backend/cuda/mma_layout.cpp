#include "backend/cuda/mma_layout.h"

#include <algorithm>
#include <string>

#include "util/error.h"

namespace mmfree::cuda {

int64_t mma_bytes(int64_t rows, int64_t cols) {
  // Tile counts stay below 2^31 so that the kernels index tiles with int.
  if (rows <= 0 || cols <= 0 || row_tiles(rows) > (int64_t{1} << 30) / std::max<int64_t>(1, col_units(cols)))
    throw Error("cuda: cannot lay out a ternary matrix of " + std::to_string(rows) + " x " + std::to_string(cols));
  return row_tiles(rows) * col_units(cols) * kTileBytes;
}

namespace {
// Tile row R's 16 rows (fewer at the end: zero codes below), t16 holding them row-major.
void pack_row_tile(const int8_t* t16, int64_t tile_rows, int64_t cols, int64_t units, uint8_t* out) {
  for (int64_t u = 0; u < units; ++u)
    for (int lane = 0; lane < 32; ++lane)
      for (int kt = 0; kt < 4; ++kt) {
        const int g = lane / 4, tq = lane % 4;
        uint32_t word = 0;
        for (int l = 0; l < 4; ++l)
          for (int j = 0; j < 4; ++j) {
            const int64_t r = g + 8 * (l & 1);
            const int64_t c = u * kTileCols + 32 * tq + 8 * kt + 4 * (l >> 1) + j;
            if (r >= tile_rows || c >= cols) continue;  // padding: code 0 (its product is never stored or adds 0)
            const int8_t v = t16[r * cols + c];
            if (v < -1 || v > 1) throw Error("cuda: value " + std::to_string(v) + " in a ternary matrix");
            word |= static_cast<uint32_t>(v + 1) << (8 * j + 2 * l);
          }
        uint8_t* dst = out + (u * 32 + lane) * 16 + kt * 4;
        for (int b = 0; b < 4; ++b) dst[b] = static_cast<uint8_t>(word >> (8 * b));
      }
}
}  // namespace

void pack_mma(const int8_t* t, int64_t rows, int64_t cols, uint8_t* out) {
  const int64_t units = col_units(cols), tile_bytes = units * kTileBytes;
  mma_bytes(rows, cols);  // validates the sizes
  for (int64_t R = 0; R < row_tiles(rows); ++R)
    pack_row_tile(t + R * kTileRows * cols, std::min<int64_t>(kTileRows, rows - R * kTileRows), cols, units,
                  out + R * tile_bytes);
}

std::vector<uint8_t> pack_mma(const TernaryMatrix& w) {
  std::vector<uint8_t> out(static_cast<size_t>(mma_bytes(w.rows, w.cols)));
  std::vector<int8_t> t16(static_cast<size_t>(kTileRows * w.cols));
  const int64_t units = col_units(w.cols);
  for (int64_t R = 0; R < row_tiles(w.rows); ++R) {
    // Rows [16R, 16R + 16) as a matrix of their own: every format keeps such a slice contiguous
    // (TQ2_0_R8's groups of 8 start at multiples of 8 and the last one ends with the matrix).
    const int64_t r0 = R * kTileRows, n = std::min<int64_t>(kTileRows, w.rows - r0);
    const TernaryMatrix slice{w.format, w.data + r0 * w.row_bytes(), n, w.cols};
    unpack_ternary(slice, t16.data());
    pack_row_tile(t16.data(), n, w.cols, units, out.data() + R * units * kTileBytes);
  }
  return out;
}

}  // namespace mmfree::cuda

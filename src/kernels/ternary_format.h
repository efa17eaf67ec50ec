#pragma once
// Packed ternary weight matrices: one view type over bytes as stored (owned, or mapped from a
// file), in one of four formats:
//   TQ2_0_R8  TQ2_0's 2-bit codes rearranged for our kernels (k % 256 == 0), the default: every
//             block's 64 code bytes 64-byte aligned and the blocks of 8 consecutive rows
//             interleaved, so a decode tile of 8 rows reads one sequential stream (ternary_layout.h);
//             the blocks' f16 d follow all the codes. Same size and GGUF type as TQ2_0;
//   TQ2_0     ggml's 2.0625 bits/weight blocks (k % 256 == 0), for other GGUF tools;
//   TQ1_0     ggml's 1.6875 bits/weight base-3 blocks (k % 256 == 0), the smallest;
//   I8        one int8 in {-1, 0, 1} per weight, any k (small test models).
// The f16 scale d inside each TQ block is for other GGUF tools (we store 1 / s_w there); our
// kernels compute the integer sums and the caller applies its exact F32 scale.
#include <cstdint>
#include <string>
#include <vector>

namespace mmfree {

enum class TernaryFormat : uint8_t { I8, TQ2_0, TQ1_0, TQ2_0_R8 };

const char* format_name(TernaryFormat f);                // "i8", "tq2_0", "tq1_0", "tq2_0_r8"
TernaryFormat parse_format(const std::string& name);  // throws Error listing the valid names
// Whether rows of k weights can be stored in f (the TQ formats need k % 256 == 0).
bool format_fits(TernaryFormat f, int64_t k);
// `wanted` (TQ2_0_R8 unless said) when it fits rows of k weights, else I8.
TernaryFormat default_format(int64_t k, TernaryFormat wanted = TernaryFormat::TQ2_0_R8);
// Bytes of weight codes per row of k weights (TQ2_0_R8: k / 4; its d values come after all rows);
// throws Error when f does not fit k.
int64_t format_row_bytes(TernaryFormat f, int64_t k);
// Bytes of a whole rows x k matrix in format f.
int64_t format_matrix_bytes(TernaryFormat f, int64_t rows, int64_t k);

// A rows x cols ternary matrix (rows = outputs, cols = inputs): rows one after another, or (TQ2_0_R8)
// in groups of 8.
struct TernaryMatrix {
  TernaryFormat format = TernaryFormat::I8;
  const uint8_t* data = nullptr;
  int64_t rows = 0, cols = 0;

  int64_t row_bytes() const { return format_row_bytes(format, cols); }
  int64_t bytes() const { return format_matrix_bytes(format, rows, cols); }
};

// Packs rows x cols values in {-1, 0, 1} (row-major) into out (format_matrix_bytes bytes),
// writing d (as f16) into every TQ block. Throws Error on a value outside {-1, 0, 1}.
void pack_ternary(TernaryFormat f, const int8_t* t, int64_t rows, int64_t cols, float d, uint8_t* out);
std::vector<uint8_t> pack_ternary(TernaryFormat f, const int8_t* t, int64_t rows, int64_t cols, float d);

// The rows * cols weights of w, each in {-1, 0, 1}.
void unpack_ternary(const TernaryMatrix& w, int8_t* out);

// Throws Error (naming `what`) unless every stored weight decodes to {-1, 0, 1}: a TQ2_0 code of
// 3 or an I8 byte outside {-1, 0, 1} means the bytes are not a ternary matrix. TQ1_0 bytes always
// decode to digits 0..2.
void validate_ternary(const TernaryMatrix& w, const std::string& what);

}  // namespace mmfree

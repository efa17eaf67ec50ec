#pragma once
// Ternary weights {-1, 0, +1} in ggml's block layouts, so that GGUF tools read them as what they
// are: TQ2_0 (2 bits each, 66 bytes per 256), TQ1_0 (5 per byte in base 3, 54 bytes per 256), and
// plain int8 (ggml I8) for rows that are not whole 256-weight blocks (tiny test models).
//
// MERGE NOTE: the kernels branch has its own packers into these same byte layouts in src/kernels/;
// when both are merged this file is to be replaced by those (one packer, one set of tests).
#include <cstdint>
#include <string>

#include "format/ggml_types.h"

namespace mmfree {

enum class TernaryFormat { TQ2_0, TQ1_0, I8 };

inline constexpr int64_t kTernaryBlock = 256;  // weights per TQ1_0 / TQ2_0 block (ggml's QK_K)

GgmlType ternary_ggml_type(TernaryFormat f);
bool ternary_format_of(uint32_t ggml_type_id, TernaryFormat* out);  // false for other types
const char* ternary_format_name(TernaryFormat f);                    // "tq2_0", "tq1_0", "i8"
bool ternary_format_from_name(const std::string& s, TernaryFormat* out);

// The format a [rows, cols] weight is stored in when `wanted` is asked for: the TQ formats need
// cols to be a whole number of blocks, other rows fall back to I8.
TernaryFormat ternary_storage_format(TernaryFormat wanted, int64_t cols);
int64_t ternary_row_bytes(TernaryFormat f, int64_t cols);

// Packs rows x cols values in {-1, 0, 1} (row-major) into rows * ternary_row_bytes(f, cols) bytes.
// Every TQ block carries the scale d (stored as f16) that turns its codes back into weights.
void pack_ternary(TernaryFormat f, const int8_t* values, int64_t rows, int64_t cols, float d, uint8_t* out);

// The inverse. Returns false when a code is no ternary value (TQ2_0 code 3, I8 outside {-1,0,1}).
bool unpack_ternary(TernaryFormat f, const uint8_t* in, int64_t rows, int64_t cols, int8_t* out);

}  // namespace mmfree

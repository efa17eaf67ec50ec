#pragma once
// Float tensors in the ggml types a converted model stores them in: F32, F16, BF16, or Q8_0.
#include <cstdint>
#include <string>

#include "format/dtype.h"
#include "format/ggml_types.h"

namespace mmfree {

bool is_float_storage(GgmlType t);  // F32, F16, BF16 or Q8_0
GgmlType float_storage_of(DType t);  // the ggml type of a checkpoint's F32, F16 or BF16 tensor

// n values; for Q8_0 n is a multiple of 32. Narrowing rounds to nearest even (f16, bf16).
void encode_floats(GgmlType t, const float* x, int64_t n, uint8_t* out);
void decode_floats(GgmlType t, const uint8_t* in, int64_t n, float* out);

// The index of the first NaN or infinity among n stored values (for Q8_0: the first value of the
// block whose f16 scale is not finite), or -1. Reads the bits, converts nothing.
int64_t first_non_finite(GgmlType t, const uint8_t* in, int64_t n);
// Throws Error "<what> holds nan at index i (...)" when first_non_finite finds one.
void check_finite(GgmlType t, const uint8_t* in, int64_t n, const std::string& what);

}  // namespace mmfree

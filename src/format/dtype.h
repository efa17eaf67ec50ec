#pragma once
// Element types of tensors in checkpoint files, and conversion of stored elements to float.
#include <cstddef>
#include <cstdint>
#include <string>

namespace mmfree {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);                       // safetensors spelling: "F32", "BF16", ...
bool dtype_from_name(const std::string& s, DType* out);  // false when unknown
bool dtype_is_float(DType t);

// Converts n stored elements of type t (F32, F16, BF16 or F64) at src to float.
void convert_to_f32(DType t, const void* src, float* dst, size_t n);

}  // namespace mmfree

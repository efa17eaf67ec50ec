#pragma once
// The packed ternary formats (kernels/ternary_format.h) as GGUF tensor types: TQ2_0, TQ1_0 and I8
// are ggml's own types with the same byte layouts, so GGUF tools read our weights as what they are.
#include <cstdint>

#include "format/ggml_types.h"
#include "kernels/ternary_format.h"

namespace mmfree {

GgmlType ternary_ggml_type(TernaryFormat f);
bool ternary_format_of(uint32_t ggml_type_id, TernaryFormat* out);  // false for other types

}  // namespace mmfree

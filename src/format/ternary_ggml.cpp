#include "format/ternary_ggml.h"

#include "util/error.h"

namespace mmfree {

GgmlType ternary_ggml_type(TernaryFormat f) {
  switch (f) {
    case TernaryFormat::TQ2_0:
    case TernaryFormat::TQ2_0_R8: return GgmlType::TQ2_0;  // rearranged, same size (model_gguf.h)
    case TernaryFormat::TQ1_0: return GgmlType::TQ1_0;
    case TernaryFormat::I8: return GgmlType::I8;
  }
  throw Error("internal: unknown ternary format");
}

bool ternary_format_of(uint32_t id, TernaryFormat* out) {
  for (auto f : {TernaryFormat::TQ2_0, TernaryFormat::TQ1_0, TernaryFormat::I8})
    if (static_cast<uint32_t>(ternary_ggml_type(f)) == id) {
      *out = f;
      return true;
    }
  return false;
}

}  // namespace mmfree

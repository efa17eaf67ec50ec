#include "format/float_codec.h"

#include <cstring>

#include "format/dtype.h"
#include "format/q8_0.h"
#include "util/error.h"
#include "util/half.h"

namespace mmfree {

bool is_float_storage(GgmlType t) {
  return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16 || t == GgmlType::Q8_0;
}

GgmlType float_storage_of(DType t) {
  switch (t) {
    case DType::F32: return GgmlType::F32;
    case DType::F16: return GgmlType::F16;
    case DType::BF16: return GgmlType::BF16;
    default: throw Error(std::string("internal: no float storage type for ") + dtype_name(t));
  }
}

void encode_floats(GgmlType t, const float* x, int64_t n, uint8_t* out) {
  switch (t) {
    case GgmlType::F32:
      std::memcpy(out, x, static_cast<size_t>(n) * 4);
      return;
    case GgmlType::F16:
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = t == GgmlType::F16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case GgmlType::Q8_0:
      quantize_q8_0(x, n, out);
      return;
    default:
      throw Error("internal: " + ggml_type_name(static_cast<uint32_t>(t)) + " is not a float storage type");
  }
}

void decode_floats(GgmlType t, const uint8_t* in, int64_t n, float* out) {
  switch (t) {
    case GgmlType::F32: convert_to_f32(DType::F32, in, out, static_cast<size_t>(n)); return;
    case GgmlType::F16: convert_to_f32(DType::F16, in, out, static_cast<size_t>(n)); return;
    case GgmlType::BF16: convert_to_f32(DType::BF16, in, out, static_cast<size_t>(n)); return;
    case GgmlType::Q8_0: dequantize_q8_0(in, n, out); return;
    default:
      throw Error("internal: " + ggml_type_name(static_cast<uint32_t>(t)) + " is not a float storage type");
  }
}

}  // namespace mmfree

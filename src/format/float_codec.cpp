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

namespace {
// The first i in [0, n) whose element (stride bytes apart, `bytes` wide) has every exponent bit
// set, or -1: a NaN or an infinity in IEEE binary32, binary16 and bfloat16 alike.
template <class U>
int64_t first_all_ones(const uint8_t* in, int64_t n, size_t stride, U exponent_mask) {
  for (int64_t i = 0; i < n; ++i) {
    U v;
    std::memcpy(&v, in + static_cast<size_t>(i) * stride, sizeof(U));
    if ((v & exponent_mask) == exponent_mask) return i;
  }
  return -1;
}
}  // namespace

int64_t first_non_finite(GgmlType t, const uint8_t* in, int64_t n) {
  switch (t) {
    case GgmlType::F32: return first_all_ones<uint32_t>(in, n, 4, 0x7f800000u);
    case GgmlType::F16: return first_all_ones<uint16_t>(in, n, 2, 0x7c00u);
    case GgmlType::BF16: return first_all_ones<uint16_t>(in, n, 2, 0x7f80u);
    case GgmlType::Q8_0: {
      const int64_t b = first_all_ones<uint16_t>(in, n / kQ8_0Block, kQ8_0BlockBytes, 0x7c00u);
      return b < 0 ? -1 : b * kQ8_0Block;
    }
    default:
      throw Error("internal: " + ggml_type_name(static_cast<uint32_t>(t)) + " is not a float storage type");
  }
}

void check_finite(GgmlType t, const uint8_t* in, int64_t n, const std::string& what) {
  const int64_t i = first_non_finite(t, in, n);
  if (i < 0) return;
  std::string value = "a non-finite block scale";
  if (t != GgmlType::Q8_0) {
    float v = 0;
    decode_floats(t, in + i * (t == GgmlType::F32 ? 4 : 2), 1, &v);
    value = std::to_string(v);
  }
  throw Error(what + " holds " + value + " at index " + std::to_string(i) +
              " (non-finite weights: a diverged training run or a corrupt file)");
}

}  // namespace mmfree

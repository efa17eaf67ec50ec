#include "format/dtype.h"

#include <cstring>

#include "util/error.h"
#include "util/half.h"

namespace mmfree {

namespace {
struct DTypeInfo {
  DType t;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kInfo[] = {
    {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::F64, "F64", 8}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2}, {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
};
const DTypeInfo& info(DType t) {
  for (const auto& i : kInfo)
    if (i.t == t) return i;
  throw Error("internal: unknown dtype");
}
}  // namespace

size_t dtype_size(DType t) { return info(t).size; }
const char* dtype_name(DType t) { return info(t).name; }
bool dtype_is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64; }

bool dtype_from_name(const std::string& s, DType* out) {
  for (const auto& i : kInfo)
    if (s == i.name) {
      *out = i.t;
      return true;
    }
  return false;
}

void convert_to_f32(DType t, const void* src, float* dst, size_t n) {
  const auto* b = static_cast<const uint8_t*>(src);
  // Elements may be unaligned in a mapped file: read each through memcpy.
  auto each = [&](auto stored, auto to_float) {
    for (size_t i = 0; i < n; ++i) {
      std::memcpy(&stored, b + sizeof(stored) * i, sizeof(stored));
      dst[i] = to_float(stored);
    }
  };
  switch (t) {
    case DType::F32: std::memcpy(dst, b, n * 4); return;
    case DType::BF16: each(uint16_t{}, bf16_to_f32); return;
    case DType::F16: each(uint16_t{}, f16_to_f32); return;
    case DType::F64: each(double{}, [](double d) { return static_cast<float>(d); }); return;
    default: throw Error(std::string("cannot convert ") + dtype_name(t) + " to float");
  }
}

}  // namespace mmfree

#include <cmath>
#include <limits>

#include "format/gguf.h"
#include "util/error.h"

namespace mmfree {

// Values are built once per element of large arrays: messages are built only on failure.
const char* gguf_value_type_name(GgufValueType t) {
  static constexpr const char* kNames[] = {"uint8", "int8",   "uint16", "int16", "uint32", "int32",  "float32",
                                           "bool",  "string", "array",  "uint64", "int64", "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

namespace {
// Bits of the integer types, 0 for the others.
int integer_bits(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: return 8;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 16;
    case GgufValueType::UINT32: case GgufValueType::INT32: return 32;
    case GgufValueType::UINT64: case GgufValueType::INT64: return 64;
    default: return 0;
  }
}
bool is_signed(GgufValueType t) {
  return t == GgufValueType::INT8 || t == GgufValueType::INT16 || t == GgufValueType::INT32 || t == GgufValueType::INT64;
}
}  // namespace

bool GgufValue::is_integer() const { return integer_bits(type_) != 0; }

std::optional<int64_t> GgufValue::to_int64() const {
  if (!is_integer()) return std::nullopt;
  if (is_signed(type_)) return as_int();
  if (as_uint() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(as_uint());
}

GgufValue GgufValue::of_uint(GgufValueType t, uint64_t v) {
  const int bits = integer_bits(t);
  if (bits == 0 || is_signed(t))
    throw Error(std::string("internal: GGUF ") + gguf_value_type_name(t) + " is not an unsigned type");
  if (bits < 64 && v >= (uint64_t{1} << bits))
    throw Error("internal: " + std::to_string(v) + " does not fit a GGUF " + gguf_value_type_name(t));
  GgufValue g;
  g.type_ = t;
  g.v_ = v;
  return g;
}

GgufValue GgufValue::of_int(GgufValueType t, int64_t v) {
  const int bits = integer_bits(t);
  if (bits == 0 || !is_signed(t))
    throw Error(std::string("internal: GGUF ") + gguf_value_type_name(t) + " is not a signed type");
  if (bits < 64 && (v < -(int64_t{1} << (bits - 1)) || v >= (int64_t{1} << (bits - 1))))
    throw Error("internal: " + std::to_string(v) + " does not fit a GGUF " + gguf_value_type_name(t));
  GgufValue g;
  g.type_ = t;
  g.v_ = v;
  return g;
}

GgufValue GgufValue::of_float(GgufValueType t, double v) {
  if (t != GgufValueType::FLOAT32 && t != GgufValueType::FLOAT64)
    throw Error(std::string("internal: GGUF ") + gguf_value_type_name(t) + " is not a float type");
  GgufValue g;
  g.type_ = t;
  // A FLOAT32 holds what its 4 bytes can, so that a value reads back as it was written.
  g.v_ = t == GgufValueType::FLOAT32 ? static_cast<double>(static_cast<float>(v)) : v;
  return g;
}

GgufValue GgufValue::of_bool(bool v) {
  GgufValue g;
  g.type_ = GgufValueType::BOOL;
  g.v_ = v;
  return g;
}

GgufValue GgufValue::of_string(std::string s) {
  GgufValue g;
  g.type_ = GgufValueType::STRING;
  g.v_ = std::move(s);
  return g;
}

GgufValue GgufValue::of_array(GgufValueType element_type, Array items) {
  for (const auto& item : items)
    if (item.type() != element_type)
      throw Error(std::string("internal: GGUF array of ") + gguf_value_type_name(element_type) + " holds a " +
                  gguf_value_type_name(item.type()));
  GgufValue g;
  g.type_ = GgufValueType::ARRAY;
  g.element_type_ = element_type;
  g.v_ = std::move(items);
  return g;
}

std::vector<int64_t> GgufTensorInfo::shape() const { return {dims.rbegin(), dims.rend()}; }

std::string GgufTensorInfo::shape_str() const {
  std::string s = "[";
  for (size_t i = dims.size(); i-- > 0;) s += std::to_string(dims[i]) + (i ? ", " : "");
  return s + "]";
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (auto d : dims) n *= static_cast<int64_t>(d);
  return n;
}

}  // namespace mmfree

#include <cstring>

#include "format/gguf.h"
#include "util/atomic_write.h"
#include "util/error.h"

namespace mmfree {

namespace {

// ggml keeps tensor names in 64-byte buffers with a terminating zero: longer names would be
// valid GGUF that ggml tools cannot load.
constexpr size_t kMaxTensorName = 63;

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

void put_value(std::string& out, const GgufValue& v) {
  using T = GgufValueType;
  switch (v.type()) {
    case T::UINT8: put<uint8_t>(out, static_cast<uint8_t>(v.as_uint())); return;
    case T::UINT16: put<uint16_t>(out, static_cast<uint16_t>(v.as_uint())); return;
    case T::UINT32: put<uint32_t>(out, static_cast<uint32_t>(v.as_uint())); return;
    case T::UINT64: put<uint64_t>(out, v.as_uint()); return;
    case T::INT8: put<int8_t>(out, static_cast<int8_t>(v.as_int())); return;
    case T::INT16: put<int16_t>(out, static_cast<int16_t>(v.as_int())); return;
    case T::INT32: put<int32_t>(out, static_cast<int32_t>(v.as_int())); return;
    case T::INT64: put<int64_t>(out, v.as_int()); return;
    case T::FLOAT32: put<float>(out, static_cast<float>(v.as_float())); return;
    case T::FLOAT64: put<double>(out, v.as_float()); return;
    case T::BOOL: put<uint8_t>(out, v.as_bool() ? 1 : 0); return;
    case T::STRING: put_string(out, v.as_string()); return;
    case T::ARRAY:
      put<uint32_t>(out, static_cast<uint32_t>(v.element_type()));
      put<uint64_t>(out, v.as_array().size());
      for (const auto& item : v.as_array()) put_value(out, item);
      return;
  }
}

// docs/gguf.md: segments of lower_snake_case separated by dots, at most 65535 bytes.
bool valid_key(const std::string& key) {
  if (key.empty() || key.size() > 65535 || key.front() == '.' || key.back() == '.') return false;
  for (size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (c == '.' && key[i - 1] != '.');
    if (!ok) return false;
  }
  return true;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

void GgufWriter::add_metadata(const std::string& key, GgufValue v) {
  check(valid_key(key), "internal: GGUF key '" + key + "' is not dot-separated lower_snake_case");
  for (const auto& [k, _] : metadata_) check(k != key, "internal: GGUF key '" + key + "' added twice");
  if (key == "general.alignment") {
    const uint64_t a = v.type() == GgufValueType::UINT32 ? v.as_uint() : 0;
    check(a != 0 && (a & (a - 1)) == 0, "internal: general.alignment must be a uint32 power of two");
  }
  metadata_.emplace_back(key, std::move(v));
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> dims, Fill fill) {
  check(!name.empty() && name.size() <= kMaxTensorName,
        "internal: tensor name '" + name + "' must be 1 to " + std::to_string(kMaxTensorName) + " bytes");
  for (const auto& t : tensors_) check(t.name != name, "internal: tensor '" + name + "' added twice");
  check(!dims.empty() && dims.size() <= 4, "internal: tensor '" + name + "' needs 1 to 4 dimensions");
  const GgmlTypeTraits& tr = ggml_type_traits(type);
  check(dims[0] % static_cast<uint64_t>(tr.block_size) == 0,
        "internal: tensor '" + name + "': rows of " + std::to_string(dims[0]) + " are not whole " + tr.name + " blocks");
  uint64_t numel = 1;
  for (auto d : dims) numel *= d;
  const uint64_t nbytes = numel / tr.block_size * tr.block_bytes;
  tensors_.push_back({name, type, std::move(dims), nbytes, std::move(fill)});
}

void GgufWriter::write(const std::string& path) const {
  uint64_t alignment = kGgufDefaultAlignment;
  for (const auto& [k, v] : metadata_)
    if (k == "general.alignment") alignment = v.as_uint();

  std::string head;
  head += "GGUF";
  put<uint32_t>(head, kGgufVersion);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, metadata_.size());
  for (const auto& [k, v] : metadata_) {
    put_string(head, k);
    put<uint32_t>(head, static_cast<uint32_t>(v.type()));
    put_value(head, v);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.dims.size()));
    for (auto d : t.dims) put<uint64_t>(head, d);
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, offset);
    offset = align_up(offset + t.nbytes, alignment);
  }
  head.resize(align_up(head.size(), alignment), '\0');

  write_file_atomically(path, [&](std::ostream& out) {
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    const std::string zeros(alignment, '\0');
    for (const auto& t : tensors_) {
      const auto start = out.tellp();
      t.fill(out);
      check(static_cast<bool>(out), path + ": write failed while writing tensor '" + t.name + "' (disk full?)");
      const auto written = static_cast<uint64_t>(out.tellp() - start);
      check(written == t.nbytes, "internal: tensor '" + t.name + "' wrote " + std::to_string(written) +
                                     " bytes, its type and shape need " + std::to_string(t.nbytes));
      // Pad after every tensor, the last included, as ggml's writer does.
      out.write(zeros.data(), static_cast<std::streamsize>(align_up(t.nbytes, alignment) - t.nbytes));
    }
  }, static_cast<int64_t>(head.size() + offset));
}

}  // namespace mmfree

#include "format/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/atomic_write.h"
#include "util/checked_math.h"
#include "util/error.h"

namespace mmfree {

using json = nlohmann::json;

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string TensorView::shape_str() const {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

std::vector<float> TensorView::to_f32() const {
  check(dtype_is_float(dtype), file + ": tensor '" + name + "' has dtype " + dtype_name(dtype) + ", expected a float type");
  std::vector<float> out(static_cast<size_t>(numel()));
  convert_to_f32(dtype, data, out.data(), out.size());
  return out;
}

std::vector<int64_t> TensorView::to_i64() const {
  std::vector<int64_t> out(static_cast<size_t>(numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (dtype) {
      case DType::I64: std::memcpy(&out[i], data + 8 * i, 8); break;
      case DType::I32: { int32_t v; std::memcpy(&v, data + 4 * i, 4); out[i] = v; break; }
      default:
        throw Error(file + ": tensor '" + name + "' has dtype " + dtype_name(dtype) + ", expected I64 or I32");
    }
  }
  return out;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : map_(path) {
  const std::string& p = map_.path();
  check(map_.size() >= 8, p + ": truncated safetensors file (" + std::to_string(map_.size()) + " bytes, no header)");
  uint64_t hlen = 0;
  std::memcpy(&hlen, map_.data(), 8);
  check(hlen <= map_.size() - 8, p + ": safetensors header length " + std::to_string(hlen) + " exceeds the file size " +
                                     std::to_string(map_.size()) + " (truncated or not a safetensors file)");
  json header;
  try {
    header = json::parse(map_.data() + 8, map_.data() + 8 + hlen);
  } catch (const json::exception& e) {
    throw Error(p + ": malformed safetensors header: " + e.what());
  }
  check(header.is_object(), p + ": malformed safetensors header: not a JSON object");
  const uint8_t* base = map_.data() + 8 + hlen;
  const uint64_t data_size = map_.size() - 8 - hlen;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      check(v.is_object(), p + ": __metadata__ is not an object");
      for (auto& [k, mv] : v.items()) {
        check(mv.is_string(), p + ": __metadata__ value '" + k + "' is not a string");
        metadata_[k] = mv.get<std::string>();
      }
      continue;
    }
    const std::string where = p + ": tensor '" + name + "': ";
    check(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
          where + "header entry needs dtype, shape and data_offsets");
    TensorView t;
    t.name = name;
    t.file = p;
    check(v["dtype"].is_string() && dtype_from_name(v["dtype"].get<std::string>(), &t.dtype),
          where + "unsupported dtype " + v["dtype"].dump());
    check(v["shape"].is_array(), where + "shape is not an array");
    for (auto& d : v["shape"]) {
      check(d.is_number_integer() && d.get<int64_t>() >= 0, where + "bad dimension " + d.dump());
      t.shape.push_back(d.get<int64_t>());
    }
    auto& off = v["data_offsets"];
    check(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
          where + "data_offsets must be two non-negative integers");
    uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    check(b <= e && e <= data_size, where + "data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                                        ") run past the end of the data (" + std::to_string(data_size) +
                                        " bytes): truncated file?");
    t.nbytes = e - b;
    // The byte count is checked for overflow before it is compared: a wrapped product would let a
    // huge shape pass with a few bytes of data, and every consumer trusts numel().
    const auto need = checked_numel(t.shape, dtype_size(t.dtype));
    check(need.has_value(), where + "shape " + t.shape_str() + " of " + dtype_name(t.dtype) +
                                " needs more than 2^63 bytes (corrupt header)");
    check(t.nbytes == static_cast<uint64_t>(*need), where + "holds " + std::to_string(t.nbytes) + " bytes but shape " +
                                                        t.shape_str() + " of " + dtype_name(t.dtype) + " needs " +
                                                        std::to_string(*need));
    t.data = base + b;
    ranges.emplace_back(b, e);
    tensors_.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    check(ranges[i].first >= ranges[i - 1].second, p + ": tensors overlap in the data section (corrupt file)");
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& SafetensorsFile::get(const std::string& name) const {
  const TensorView* t = find(name);
  check(t != nullptr, path() + ": missing tensor '" + name + "'");
  return *t;
}

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data,
                            size_t nbytes) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  check(static_cast<size_t>(n) * dtype_size(dtype) == nbytes, "internal: tensor '" + name + "' size mismatch");
  const auto* b = static_cast<const uint8_t*>(data);
  entries_.push_back({name, dtype, std::move(shape), std::vector<uint8_t>(b, b + nbytes)});
}

void SafetensorsWriter::add_f32(const std::string& name, std::vector<int64_t> shape, std::span<const float> v) {
  add(name, DType::F32, std::move(shape), v.data(), v.size() * 4);
}

void SafetensorsWriter::write(const std::string& path) const {
  int64_t bytes = 0;
  for (const auto& e : entries_) bytes += static_cast<int64_t>(e.bytes.size());
  write_file_atomically(path, [&](std::ostream& out) { write_to(out); }, bytes);
}

void SafetensorsWriter::write_to(std::ostream& out) const {
  json header = json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t off = 0;
  for (const auto& e : entries_) {
    header[e.name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {off, off + e.bytes.size()}}};
    off += e.bytes.size();
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keep the data 8-byte aligned, as the reference writer does
  uint64_t len = h.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const auto& e : entries_) out.write(reinterpret_cast<const char*>(e.bytes.data()), static_cast<std::streamsize>(e.bytes.size()));
}

}  // namespace mmfree

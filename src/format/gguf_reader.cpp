#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>

#include "format/gguf.h"
#include "util/error.h"

namespace mmfree {

bool is_gguf_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

namespace {

constexpr uint64_t kMaxKeyBytes = 65535;     // docs/gguf.md: keys are at most 2^16-1 bytes
constexpr uint64_t kMaxTensorNameBytes = 64;  // docs/gguf.md: tensor names are at most 64 bytes
constexpr uint32_t kMaxDims = 4;
constexpr int kMaxArrayNesting = 8;  // the spec allows nested arrays; this bounds the recursion

// Reads little-endian fields from the mapped bytes; every read is bounds-checked and a short file
// is reported with the field and the metadata key or tensor being read.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& path) : data_(data), size_(size), path_(path) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  void set_context(std::string c) { context_ = std::move(c); }
  const std::string& context() const { return context_; }
  std::string fail_prefix() const { return path_ + ": " + context_ + ": "; }

  // Messages are built only on failure: reads run once per value of large arrays.
  void need(uint64_t n, const char* field) const {
    if (n > remaining())
      throw Error(path_ + ": truncated file: " + field + " of " + context_ + " at byte " + std::to_string(pos_) + " needs " +
                  std::to_string(n) + " bytes, the file ends at byte " + std::to_string(size_));
  }
  template <class T>
  T read(const char* field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const char* field, uint64_t max_len) {
    const uint64_t len = read<uint64_t>(field);
    if (len > max_len)
      throw Error(fail_prefix() + field + " is " + std::to_string(len) + " bytes long, at most " + std::to_string(max_len) +
                  " are allowed (corrupt file?)");
    need(len, field);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return s;
  }

 private:
  const uint8_t* data_;
  uint64_t size_, pos_ = 0;
  const std::string& path_;
  std::string context_;
};

// The fewest bytes one value of type t can take, to bound array lengths before allocating.
uint64_t min_value_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 12;
    default: return 8;
  }
}

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::FLOAT64); }

// Every decoded value costs sizeof(GgufValue) (plus its string) of memory, however few bytes it
// took in the file: an array of 10^8 uint8 in a 100 MB file would take ~5 GB. The metadata may use
// the file's size plus 64 MiB, far above what real files need (a 150k-token vocabulary, ~10 MB).
class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t file_size) : left_(file_size + (uint64_t{64} << 20)) {}
  void spend(uint64_t bytes, const Cursor& c) {
    if (bytes > left_)
      throw Error(c.fail_prefix() + "the metadata would take more memory than the file's size plus 64 MiB "
                                    "(huge arrays: corrupt file?)");
    left_ -= bytes;
  }

 private:
  uint64_t left_;
};

GgufValue read_value(Cursor& c, GgufValueType t, int depth, MemoryBudget& budget) {
  using T = GgufValueType;
  switch (t) {
    case T::UINT8: return GgufValue::of_uint(t, c.read<uint8_t>("value"));
    case T::UINT16: return GgufValue::of_uint(t, c.read<uint16_t>("value"));
    case T::UINT32: return GgufValue::of_uint(t, c.read<uint32_t>("value"));
    case T::UINT64: return GgufValue::of_uint(t, c.read<uint64_t>("value"));
    case T::INT8: return GgufValue::of_int(t, c.read<int8_t>("value"));
    case T::INT16: return GgufValue::of_int(t, c.read<int16_t>("value"));
    case T::INT32: return GgufValue::of_int(t, c.read<int32_t>("value"));
    case T::INT64: return GgufValue::of_int(t, c.read<int64_t>("value"));
    case T::FLOAT32: return GgufValue::of_float(t, c.read<float>("value"));
    case T::FLOAT64: return GgufValue::of_float(t, c.read<double>("value"));
    case T::BOOL: {
      const uint8_t b = c.read<uint8_t>("value");
      if (b > 1) throw Error(c.fail_prefix() + "bool value is " + std::to_string(b) + ", must be 0 or 1");
      return GgufValue::of_bool(b == 1);
    }
    case T::STRING: {
      std::string v = c.read_string("string value", UINT64_MAX);
      budget.spend(v.size(), c);
      return GgufValue::of_string(std::move(v));
    }
    case T::ARRAY: {
      const uint32_t et = c.read<uint32_t>("array element type");
      check(valid_value_type(et), c.fail_prefix() + "array has unknown element type " + std::to_string(et));
      check(depth < kMaxArrayNesting, c.fail_prefix() + "arrays nested deeper than " + std::to_string(kMaxArrayNesting));
      const auto elem = static_cast<GgufValueType>(et);
      const uint64_t n = c.read<uint64_t>("array length");
      check(n <= c.remaining() / min_value_bytes(elem),
            c.fail_prefix() + "array of " + std::to_string(n) + " " + gguf_value_type_name(elem) +
                " values does not fit in the " + std::to_string(c.remaining()) + " bytes left (truncated or corrupt file)");
      budget.spend(n * sizeof(GgufValue), c);  // the reserve below, before it happens (n < file size)
      GgufValue::Array items;
      items.reserve(n);
      for (uint64_t i = 0; i < n; ++i) items.push_back(read_value(c, elem, depth + 1, budget));
      return GgufValue::of_array(elem, std::move(items));
    }
  }
  throw Error(c.fail_prefix() + "unknown value type " + std::to_string(static_cast<uint32_t>(t)));
}

// What the first bytes of a file that is not GGUF are, for the error message.
std::string describe_foreign(const uint8_t* d, uint64_t size) {
  if (size < 4) return "the file is " + std::to_string(size) + " bytes long, too short for the magic 'GGUF'";
  char buf[64];
  std::snprintf(buf, sizeof buf, "it starts with bytes %02x %02x %02x %02x", d[0], d[1], d[2], d[3]);
  std::string s = std::string(buf) + " where a GGUF file has 'GGUF'";
  if (size >= 9 && d[8] == '{') s += " (it looks like a safetensors file)";
  return s;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

GgufFile::GgufFile(const std::string& path) : map_(path) { parse(); }

void GgufFile::parse() {
  const std::string& p = path();
  const uint8_t* d = map_.data();
  const uint64_t size = map_.size();
  check(size >= 4 && std::memcmp(d, "GGUF", 4) == 0, p + ": not a GGUF file: " + describe_foreign(d, size));
  Cursor c(d, size, p);
  c.set_context("the header");
  c.read<uint32_t>("magic");
  version_ = c.read<uint32_t>("version");
  check(version_ == kGgufVersion || (version_ & 0xffffu) != 0,
        p + ": GGUF version field reads " + std::to_string(version_) + ": a big-endian file? mmfree reads little-endian GGUF");
  check(version_ == kGgufVersion, p + ": unsupported GGUF version " + std::to_string(version_) + " (mmfree reads version " +
                                      std::to_string(kGgufVersion) + ")");
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each key-value pair takes at least 13 bytes and each tensor info 24: a count beyond what the
  // file can hold is corruption or truncation, caught before any allocation.
  check(n_kv <= c.remaining() / 13, p + ": the header announces " + std::to_string(n_kv) +
                                        " metadata entries, more than the file can hold (truncated or corrupt)");
  check(n_tensors <= c.remaining() / 24, p + ": the header announces " + std::to_string(n_tensors) +
                                             " tensors, more than the file can hold (truncated or corrupt)");

  MemoryBudget budget(size);
  for (uint64_t i = 0; i < n_kv; ++i) {
    c.set_context("metadata entry " + std::to_string(i));
    std::string key = c.read_string("key", kMaxKeyBytes);
    check(!key.empty(), c.fail_prefix() + "empty key");
    for (unsigned char ch : key)
      check(ch >= 0x20 && ch < 0x7f, c.fail_prefix() + "key is not printable ASCII");
    c.set_context("metadata key '" + key + "'");
    budget.spend(sizeof(metadata_[0]) + 2 * key.size() + 64, c);  // the entry, its key twice (index), a map node
    check(metadata_index_.count(key) == 0, c.fail_prefix() + "appears twice");
    const uint32_t t = c.read<uint32_t>("value type");
    check(valid_value_type(t), c.fail_prefix() + "unknown value type " + std::to_string(t));
    GgufValue v = read_value(c, static_cast<GgufValueType>(t), 0, budget);
    metadata_index_.emplace(key, metadata_.size());
    metadata_.emplace_back(std::move(key), std::move(v));
  }

  if (const GgufValue* a = find("general.alignment")) {
    check(a->type() == GgufValueType::UINT32, p + ": metadata key 'general.alignment' has type " +
                                                  gguf_value_type_name(a->type()) + ", must be uint32");
    alignment_ = a->as_uint();
    check(alignment_ != 0 && (alignment_ & (alignment_ - 1)) == 0,
          p + ": metadata key 'general.alignment' is " + std::to_string(alignment_) + ", must be a power of two");
  }

  for (uint64_t i = 0; i < n_tensors; ++i) {
    c.set_context("tensor info " + std::to_string(i));
    GgufTensorInfo t;
    t.name = c.read_string("name", kMaxTensorNameBytes);
    check(!t.name.empty(), c.fail_prefix() + "empty tensor name");
    c.set_context("tensor '" + t.name + "'");
    check(tensor_index_.count(t.name) == 0, c.fail_prefix() + "appears twice");
    const uint32_t n_dims = c.read<uint32_t>("dimension count");
    check(n_dims <= kMaxDims, c.fail_prefix() + "has " + std::to_string(n_dims) + " dimensions, at most " +
                                  std::to_string(kMaxDims) + " are allowed");
    uint64_t numel = 1;
    for (uint32_t j = 0; j < n_dims; ++j) {
      const uint64_t dim = c.read<uint64_t>("dimension");
      check(dim < (uint64_t{1} << 62) && (dim == 0 || numel <= (uint64_t{1} << 62) / dim),
            c.fail_prefix() + "dimensions too large (corrupt file?)");
      numel *= dim;
      t.dims.push_back(dim);
    }
    t.type_id = c.read<uint32_t>("type");
    const GgmlTypeTraits* tr = ggml_type_traits(t.type_id);
    check(tr != nullptr, c.fail_prefix() + "unknown ggml type id " + std::to_string(t.type_id));
    const uint64_t row = t.dims.empty() ? 1 : t.dims[0];
    check(row % tr->block_size == 0, c.fail_prefix() + "rows of " + std::to_string(row) + " elements are not a whole number of " +
                                         tr->name + " blocks of " + std::to_string(tr->block_size));
    t.nbytes = numel / tr->block_size * tr->block_bytes;
    t.offset = c.read<uint64_t>("data offset");
    check(t.offset % alignment_ == 0, c.fail_prefix() + "data offset " + std::to_string(t.offset) +
                                          " is not a multiple of the alignment " + std::to_string(alignment_));
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  data_offset_ = align_up(c.pos(), alignment_);
  const uint64_t data_size = data_offset_ <= size ? size - data_offset_ : 0;
  for (auto& t : tensors_) {
    check(t.offset <= data_size && t.nbytes <= data_size - t.offset,
          p + ": tensor '" + t.name + "' " + t.shape_str() + " of " + ggml_type_name(t.type_id) + " needs bytes [" +
              std::to_string(t.offset) + ", " + std::to_string(t.offset + t.nbytes) + ") of the data section, which holds " +
              std::to_string(data_size) + " (truncated file or bad offset)");
    t.data = d + data_offset_ + t.offset;
  }
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    check(by_offset[i]->offset >= by_offset[i - 1]->offset + by_offset[i - 1]->nbytes,
          p + ": tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap in the data section");
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufValue& GgufFile::get(const std::string& key) const {
  const GgufValue* v = find(key);
  check(v != nullptr, path() + ": missing metadata key '" + key + "'");
  return *v;
}

namespace {
std::string wrong_type(const std::string& path, const std::string& key, const GgufValue& v, const char* want) {
  return path + ": metadata key '" + key + "' has type " + gguf_value_type_name(v.type()) + ", expected " + want;
}
}  // namespace

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = get(key);
  check(v.is_integer(), wrong_type(path(), key, v, "an integer"));
  const std::optional<int64_t> i = v.to_int64();
  if (!i) throw Error(path() + ": metadata key '" + key + "' = " + std::to_string(v.as_uint()) + " is out of range");
  return *i;
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = get(key);
  check(v.is_float(), wrong_type(path(), key, v, "float32 or float64"));
  return v.as_float();
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = get(key);
  check(v.type() == GgufValueType::BOOL, wrong_type(path(), key, v, "bool"));
  return v.as_bool();
}

const std::string& GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = get(key);
  check(v.type() == GgufValueType::STRING, wrong_type(path(), key, v, "string"));
  return v.as_string();
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo* t = find_tensor(name);
  check(t != nullptr, path() + ": missing tensor '" + name + "'");
  return *t;
}

}  // namespace mmfree

#pragma once
// The GGUF v3 container (ggml's docs/gguf.md): "GGUF", version, tensor and metadata counts, typed
// metadata, tensor infos (dimensions innermost first), then the tensor data, each tensor at a
// multiple of general.alignment (default 32) from the start of the data section. Little-endian.
// GgufFile reads by memory map and validates strictly; GgufWriter streams one tensor at a time.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "format/ggml_types.h"
#include "util/mapped_file.h"

namespace mmfree {

enum class GgufValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};
const char* gguf_value_type_name(GgufValueType t);  // "uint32", ...; "unknown" past the enum

// One metadata value: a scalar, a string, or an array of values of one type (arrays may nest).
class GgufValue {
 public:
  using Array = std::vector<GgufValue>;

  GgufValue() = default;  // uint8 0
  static GgufValue of_uint(GgufValueType t, uint64_t v);  // UINT8..UINT64; throws if v does not fit
  static GgufValue of_int(GgufValueType t, int64_t v);    // INT8..INT64; throws if v does not fit
  static GgufValue of_float(GgufValueType t, double v);   // FLOAT32 or FLOAT64
  static GgufValue of_bool(bool v);
  static GgufValue of_string(std::string s);
  static GgufValue of_array(GgufValueType element_type, Array items);  // throws if an item has another type
  static GgufValue u32(uint32_t v) { return of_uint(GgufValueType::UINT32, v); }
  static GgufValue f32(float v) { return of_float(GgufValueType::FLOAT32, v); }

  GgufValueType type() const { return type_; }
  GgufValueType element_type() const { return element_type_; }  // arrays only
  bool is_integer() const;
  std::optional<int64_t> to_int64() const;  // integers that fit int64; nullopt otherwise
  bool is_float() const { return type_ == GgufValueType::FLOAT32 || type_ == GgufValueType::FLOAT64; }

  // Unchecked views of the payload; callers test type() first (GgufFile's getters do).
  uint64_t as_uint() const { return std::get<uint64_t>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  bool as_bool() const { return std::get<bool>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }

  bool operator==(const GgufValue& o) const = default;

 private:
  GgufValueType type_ = GgufValueType::UINT8;
  GgufValueType element_type_ = GgufValueType::UINT8;
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> v_ = uint64_t{0};
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order: dims[0] is the innermost (contiguous) dimension
  uint32_t type_id = 0;        // a ggml type id (GgmlType where mmfree knows it)
  uint64_t offset = 0;         // from the start of the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping

  GgmlType type() const { return static_cast<GgmlType>(type_id); }
  std::vector<int64_t> shape() const;  // outermost first, as in safetensors: [rows, cols]
  std::string shape_str() const;       // "[rows, cols]"
  int64_t numel() const;
};

// True when path is a regular file that starts with the GGUF magic.
bool is_gguf_file(const std::string& path);

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);

  const std::string& path() const { return map_.path(); }
  uint64_t file_size() const { return map_.size(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section

  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;
  // Typed getters: throw Error naming the file and the key when it is missing or of another type.
  const GgufValue& get(const std::string& key) const;
  int64_t get_int(const std::string& key) const;  // any integer type that fits int64
  double get_float(const std::string& key) const;  // FLOAT32 or FLOAT64
  bool get_bool(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }  // in file order
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  const GgufTensorInfo& tensor(const std::string& name) const;  // throws naming file and tensor

 private:
  void parse();
  MappedFile map_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32, data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// Declares metadata and tensors, then writes the file atomically in one pass. Tensor bytes come
// from a callback each, called in order while writing, so no more than one tensor (or whatever the
// callback holds) is in memory at a time. The alignment is general.alignment when set (UINT32, a
// power of two), else 32.
class GgufWriter {
 public:
  using Fill = std::function<void(std::ostream&)>;  // must write exactly the tensor's byte size

  void add_metadata(const std::string& key, GgufValue v);
  // dims in ggml order (innermost first); dims[0] must be a whole number of blocks of `type`.
  void add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> dims, Fill fill);
  void write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> dims;
    uint64_t nbytes;
    Fill fill;
  };
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<Tensor> tensors_;
};

inline constexpr uint32_t kGgufVersion = 3;
inline constexpr uint64_t kGgufDefaultAlignment = 32;

}  // namespace mmfree

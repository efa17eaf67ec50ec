#pragma once
// A read-only memory map of a whole file (RAII). Weights are read in place, never copied.
#include <cstddef>
#include <cstdint>
#include <string>

namespace mmfree {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Tells the kernel that [p, p + bytes) of a mapping is read at random (no readahead): a token's
// embedding row should page in alone, not with the 100+ KB around it. Whole pages inside the range
// only; a hint, so failures are ignored.
void advise_random_access(const void* p, size_t bytes);

}  // namespace mmfree

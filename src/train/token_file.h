#pragma once
// Token files: the prepared training data (docs/FORMATS.md, "Token files"). A 48-byte little-endian
// header, then the token ids as uint16 (vocabularies up to 65536) or uint32.
#include <cstdint>
#include <string>
#include <vector>

#include "util/mapped_file.h"

namespace mmfree {

inline constexpr char kTokenFileMagic[8] = {'M', 'M', 'F', 'T', 'O', 'K', 'E', 'N'};
inline constexpr uint32_t kTokenFileVersion = 1;
inline constexpr size_t kTokenFileHeaderBytes = 48;

struct TokenFileInfo {
  int64_t vocab_size = 0;
  int32_t bos_id = -1, eos_id = -1;  // -1 when the tokenizer has none
  int64_t documents = 0;
};

// Writes ids atomically (temp file, fsync, rename). Ids must lie in [0, vocab_size).
void write_token_file(const std::string& path, const std::vector<int32_t>& ids, const TokenFileInfo& info);

// A token file, memory-mapped and validated: magic, version, dtype, size, and every id < vocab_size.
class TokenFile {
 public:
  explicit TokenFile(const std::string& path);

  const std::string& path() const { return map_.path(); }
  const TokenFileInfo& info() const { return info_; }
  int64_t size() const { return count_; }  // number of tokens
  int32_t operator[](int64_t i) const;
  // Copies tokens [start, start + n) to out.
  void read(int64_t start, int64_t n, int32_t* out) const;

 private:
  MappedFile map_;
  TokenFileInfo info_;
  int64_t count_ = 0;
  uint32_t bytes_per_token_ = 2;
  const uint8_t* ids_ = nullptr;
};

}  // namespace mmfree

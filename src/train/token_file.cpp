#include "train/token_file.h"

#include <cstring>

#include "util/atomic_write.h"
#include "util/error.h"

namespace mmfree {

namespace {

uint32_t bytes_per_token_for(int64_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

template <typename T>
void put(std::string& buf, size_t at, T v) {
  std::memcpy(buf.data() + at, &v, sizeof v);
}

template <typename T>
T get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

void write_token_file(const std::string& path, const std::vector<int32_t>& ids, const TokenFileInfo& info) {
  check(info.vocab_size > 0 && info.vocab_size <= (int64_t{1} << 31), path + ": vocabulary size out of range");
  const uint32_t bpt = bytes_per_token_for(info.vocab_size);
  std::string header(kTokenFileHeaderBytes, '\0');
  std::memcpy(header.data(), kTokenFileMagic, 8);
  put<uint32_t>(header, 8, kTokenFileVersion);
  put<uint32_t>(header, 12, bpt);
  put<uint64_t>(header, 16, ids.size());
  put<uint64_t>(header, 24, static_cast<uint64_t>(info.vocab_size));
  put<int32_t>(header, 32, info.bos_id);
  put<int32_t>(header, 36, info.eos_id);
  put<uint64_t>(header, 40, static_cast<uint64_t>(info.documents));
  std::vector<uint8_t> body(ids.size() * bpt);
  for (size_t i = 0; i < ids.size(); ++i) {
    check(ids[i] >= 0 && ids[i] < info.vocab_size, "internal: token id outside the vocabulary");
    if (bpt == 2) {
      const uint16_t v = static_cast<uint16_t>(ids[i]);
      std::memcpy(body.data() + 2 * i, &v, 2);
    } else {
      const uint32_t v = static_cast<uint32_t>(ids[i]);
      std::memcpy(body.data() + 4 * i, &v, 4);
    }
  }
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(body.data()), static_cast<std::streamsize>(body.size()));
  }, static_cast<int64_t>(header.size() + body.size()));
}

TokenFile::TokenFile(const std::string& path) : map_(path) {
  const uint8_t* p = map_.data();
  const std::string& f = map_.path();
  check(map_.size() >= kTokenFileHeaderBytes,
        f + ": not a token file (" + std::to_string(map_.size()) + " bytes, shorter than the 48-byte header)");
  check(std::memcmp(p, kTokenFileMagic, 8) == 0, f + ": not a token file (bad magic; expected MMFTOKEN)");
  const uint32_t version = get<uint32_t>(p + 8);
  check(version == kTokenFileVersion,
        f + ": token file version " + std::to_string(version) + " is not supported (expected 1)");
  bytes_per_token_ = get<uint32_t>(p + 12);
  const uint64_t count = get<uint64_t>(p + 16);
  const uint64_t vocab = get<uint64_t>(p + 24);
  info_.bos_id = get<int32_t>(p + 32);
  info_.eos_id = get<int32_t>(p + 36);
  info_.documents = static_cast<int64_t>(get<uint64_t>(p + 40));
  check(vocab > 0 && vocab <= (uint64_t{1} << 31), f + ": corrupt header: vocabulary size " + std::to_string(vocab));
  info_.vocab_size = static_cast<int64_t>(vocab);
  check(bytes_per_token_ == bytes_per_token_for(info_.vocab_size),
        f + ": corrupt header: " + std::to_string(bytes_per_token_) + " bytes per token for a vocabulary of " +
            std::to_string(vocab) + " (expected " + std::to_string(bytes_per_token_for(info_.vocab_size)) + ")");
  const uint64_t body = map_.size() - kTokenFileHeaderBytes;
  check(count <= body / bytes_per_token_ && count * bytes_per_token_ == body,
        f + ": header says " + std::to_string(count) + " tokens but the file holds " + std::to_string(body) +
            " bytes of ids (truncated or corrupt)");
  count_ = static_cast<int64_t>(count);
  ids_ = p + kTokenFileHeaderBytes;
  for (int64_t i = 0; i < count_; ++i) {
    const int64_t id = (*this)[i];
    check(id >= 0 && id < info_.vocab_size, f + ": token " + std::to_string(i) + " is " + std::to_string(id) +
                                                ", outside the vocabulary [0, " + std::to_string(vocab) + ") (corrupt file)");
  }
}

int32_t TokenFile::operator[](int64_t i) const {
  if (bytes_per_token_ == 2) return get<uint16_t>(ids_ + 2 * i);
  return static_cast<int32_t>(get<uint32_t>(ids_ + 4 * i));
}

void TokenFile::read(int64_t start, int64_t n, int32_t* out) const {
  for (int64_t i = 0; i < n; ++i) out[i] = (*this)[start + i];
}

}  // namespace mmfree

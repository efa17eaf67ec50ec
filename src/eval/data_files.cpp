#include "eval/data_files.h"

#include <bzlib.h>

#include <fstream>
#include <memory>

#include "util/error.h"
#include "util/utf8.h"

namespace mmfree::eval {
namespace {

// The largest evaluation file we accept, compressed or not (the biggest set, HellaSwag, is 7.8 MB of text).
constexpr size_t kMaxBytes = size_t{256} << 20;

std::string read_raw(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  check(f.good(), path + ": cannot open (is --data the folder of the evaluation sets?)");
  const auto size = static_cast<std::streamoff>(f.tellg());
  check(size >= 0 && static_cast<size_t>(size) <= kMaxBytes, path + ": larger than 256 MiB, not an evaluation set");
  std::string bytes(static_cast<size_t>(size), '\0');
  f.seekg(0);
  f.read(bytes.data(), size);
  check(f.good() || size == 0, path + ": read failed");
  return bytes;
}

std::string bunzip2(const std::string& in, const std::string& path) {
  bz_stream s{};
  check(BZ2_bzDecompressInit(&s, 0, 0) == BZ_OK, path + ": cannot start bzip2 decompression");
  std::unique_ptr<bz_stream, int (*)(bz_stream*)> guard(&s, BZ2_bzDecompressEnd);
  std::string out;
  char buf[1 << 16];
  s.next_in = const_cast<char*>(in.data());  // the library's API is not const-correct; it only reads
  s.avail_in = static_cast<unsigned>(in.size());
  for (;;) {
    s.next_out = buf;
    s.avail_out = sizeof buf;
    const int rc = BZ2_bzDecompress(&s);
    check(rc == BZ_OK || rc == BZ_STREAM_END,
          path + ": not a valid bzip2 file (bzip2 error " + std::to_string(rc) + ")");
    out.append(buf, sizeof buf - s.avail_out);
    check(out.size() <= kMaxBytes, path + ": decompresses to more than 256 MiB, not an evaluation set");
    if (rc == BZ_STREAM_END) return out;
    check(s.avail_in > 0 || s.avail_out == 0, path + ": bzip2 data ends early (truncated file?)");
  }
}

}  // namespace

std::string read_data_file(const std::string& path) {
  std::string bytes = read_raw(path);
  if (path.size() > 4 && path.ends_with(".bz2")) bytes = bunzip2(bytes, path);
  check_utf8(bytes, path);
  return bytes;
}

std::vector<std::string> read_lines(const std::string& path) {
  const std::string text = read_data_file(path);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    size_t stop = end;
    if (stop > start && text[stop - 1] == '\r') --stop;
    lines.emplace_back(text, start, stop - start);
    start = end + 1;
  }
  return lines;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  const auto lines = read_lines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    auto j = nlohmann::json::parse(lines[i], nullptr, false);
    check(!j.is_discarded() && j.is_object(), path + ":" + std::to_string(i + 1) + ": not a JSON object");
    out.push_back(std::move(j));
  }
  return out;
}

std::string json_string(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  check(it != j.end() && it->is_string(), where + ": no string \"" + key + "\"");
  return it->get<std::string>();
}

}  // namespace mmfree::eval

#pragma once
// Shared by the fuzz targets: most parsers read a path (they memory-map it), so each input is
// written to one scratch file per process first.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace mmfree::fuzz {

// A scratch path under $TMPDIR unique to this process and `name` (the name a loader may look at).
inline std::string scratch_path(const std::string& name) {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("mmfree_fuzz_" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return (dir / name).string();
}

inline std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_path(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                 static_cast<std::streamsize>(size));
  return path;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Loaders may accept a model from a fuzzed file; building it is bounded by the input's size, but a
// large valid config on a small machine is not a bug, so targets skip those past this size.
inline constexpr int64_t kMaxFuzzParameters = int64_t{1} << 22;

}  // namespace mmfree::fuzz

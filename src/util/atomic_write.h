#pragma once
// Writes a file so that a crash mid-write never harms an existing one: temp file, fsync, rename.
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace mmfree {

// `expected_bytes` (0: unknown) sizes the progress line shown while a large file is written.
// `verify`, when given, reads the finished temp file (its path is the argument) and throws to keep
// the old file: the new one replaces it only once it has been read back whole.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& fill,
                           int64_t expected_bytes = 0, const std::function<void(const std::string&)>& verify = {});

}  // namespace mmfree

#pragma once
// Writes a file so that a crash mid-write never harms an existing one: temp file, fsync, rename.
#include <functional>
#include <ostream>
#include <string>

namespace mmfree {

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& fill);

}  // namespace mmfree

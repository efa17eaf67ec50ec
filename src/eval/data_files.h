#pragma once
// Reading the evaluation sets' files: whole files (bzip2-compressed when the name ends in .bz2),
// lines, JSON lines. Every failure names the file (and line); sizes are bounded, so a corrupt or
// hostile file gives an error instead of a huge allocation.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mmfree::eval {

// The file's bytes, decompressed when it ends in ".bz2". Checks that they are valid UTF-8.
std::string read_data_file(const std::string& path);

// The file's lines without their "\n" or "\r\n"; a final line without "\n" counts, a final "\n" ends
// the last line (no empty line after it).
std::vector<std::string> read_lines(const std::string& path);

// One JSON object per non-empty line.
std::vector<nlohmann::json> read_jsonl(const std::string& path);

// The string member `key` of object j, read from file:line (for messages).
std::string json_string(const nlohmann::json& j, const char* key, const std::string& where);

}  // namespace mmfree::eval

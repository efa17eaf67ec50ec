#pragma once
// The few Python string semantics the harness's task definitions rely on, on UTF-8 text: what
// str.isspace() / the regex class \s match, str.strip/rstrip, len() in code points,
// len(re.split(r"\s+", s)) and str.capitalize() (ASCII letters; the eval sets' fragments are ASCII).
// Every function takes valid UTF-8 (data_files.h checks it on reading).
#include <cstdint>
#include <string>
#include <string_view>

namespace mmfree::eval::py {

bool isspace(char32_t c);
std::string_view rstrip(std::string_view s);
std::string_view strip(std::string_view s);
int64_t len(std::string_view s);             // code points (bytes that do not continue a sequence)
int64_t split_ws_count(std::string_view s);  // len(re.split(r"\s+", s)): whitespace runs + 1
std::string capitalize(std::string_view s);

}  // namespace mmfree::eval::py

#pragma once
// Values as text, the way Python and Jinja write them: str() for {{ }} output, repr() inside
// lists and dicts, json.dumps() for the tojson filter (transformers' variant: keys unsorted,
// non-ASCII kept); and the string helpers Python's str methods need (by code point where Python
// counts code points).
#include <string>
#include <string_view>
#include <vector>

#include "jinja/budget.h"
#include "jinja/value.h"

namespace mmfree::jinja {

std::string to_str(const Value& v, Budget& budget);
std::string repr(const Value& v, Budget& budget);
// indent < 0: one line, separators ", " and ": ".
std::string to_json(const Value& v, int indent, Budget& budget);

// Byte offsets of the code points of s, and s.size() at the end (invalid bytes count one each).
std::vector<size_t> code_points(std::string_view s);
size_t code_point_count(std::string_view s);

// Python's str.strip / lstrip / rstrip: `chars` of nullptr strips whitespace.
std::string strip(std::string_view s, const std::string* chars, bool left, bool right);
std::string ascii_lower(std::string s);
std::string ascii_upper(std::string s);
std::string capitalize(std::string_view s);  // first letter upper, the rest lower
std::string title(std::string_view s);       // each word's first letter upper, the rest lower

}  // namespace mmfree::jinja

#pragma once
// Jinja's operators on values, with Python's semantics: equality across kinds, ordering, `in`,
// arithmetic on 64-bit integers (overflow is an error, not a wrap), concatenation of strings and
// lists, attribute and item lookup (missing gives Undefined, as Jinja's default Undefined does),
// and Python's slices.
#include <string>

#include "jinja/budget.h"
#include "jinja/value.h"

namespace mmfree::jinja {

bool equals(const Value& a, const Value& b, Budget& budget);
// a op b for op in < <= > >=.
bool ordered(const std::string& op, const Value& a, const Value& b, Budget& budget);
bool contains(const Value& container, const Value& item, Budget& budget);
// + - * // % ** and ~.
Value binary(const std::string& op, const Value& a, const Value& b, Budget& budget);
Value negate(const Value& v);
Value attribute(const Value& obj, const std::string& name);
Value item(const Value& obj, const Value& key, Budget& budget);
// obj[start:stop:step]; an Undefined or None bound means "from the end" as in Python.
Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step, Budget& budget);
// What a for loop walks over: a list's items, a dict's keys, a string's characters; Undefined: none.
List iterate(const Value& v, Budget& budget);
// A short name of a value's type for messages ("string", "list", ...).
std::string kind_name(const Value& v);

}  // namespace mmfree::jinja

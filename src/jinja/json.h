#pragma once
// JSON values as template values (the variables a template is rendered with); ordered_json, so
// that objects keep their keys in the order written, as Python dicts do.
#include <nlohmann/json.hpp>

#include "jinja/value.h"

namespace mmfree::jinja {

// Throws Error for a floating-point number (this engine has none) or nesting beyond kMaxValueDepth.
Value from_json(const nlohmann::ordered_json& j);

}  // namespace mmfree::jinja

#pragma once
// Jinja's filters and tests, Python's str and dict methods, and the global functions transformers
// gives chat templates (raise_exception, namespace, range, strftime_now), as far as chat templates
// use them. Each throws Error naming itself when given what it cannot take.
#include <string>
#include <utility>
#include <vector>

#include "jinja/budget.h"
#include "jinja/value.h"

namespace mmfree::jinja {

using Args = std::vector<Value>;
using Kwargs = std::vector<std::pair<std::string, Value>>;

bool is_filter(const std::string& name);
bool is_test(const std::string& name);
Value apply_filter(const std::string& name, const Value& subject, const Args& args, const Kwargs& kwargs, Budget& budget);
bool apply_test(const std::string& name, const Value& subject, const Args& args, Budget& budget);

// receiver.name(...) for a string or dict receiver that has such a method; false when it has none.
bool call_method(const Value& receiver, const std::string& name, const Args& args, const Kwargs& kwargs, Budget& budget,
                 Value& result);
// A global function (a Value of Kind::Function).
Value call_function(const Value& function, const Args& args, const Kwargs& kwargs, Budget& budget);
// The global functions, by name, for the template's outermost scope.
std::vector<std::string> function_names();

}  // namespace mmfree::jinja

#pragma once
// Tokens -> statements. The statements and expressions of Jinja that chat templates use: text,
// {{ expr }}, if/elif/else, for (with `if` filter, else, loop.*), set (names and namespace
// attributes), macro, break and continue; anything else is named in the error.
#include <vector>

#include "jinja/ast.h"
#include "jinja/budget.h"
#include "jinja/lexer.h"

namespace mmfree::jinja {

// Throws Error naming the line and what was expected.
std::vector<Stmt> parse(const std::vector<Token>& tokens, const Limits& limits);

}  // namespace mmfree::jinja

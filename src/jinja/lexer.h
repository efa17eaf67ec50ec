#pragma once
// Template text -> tokens, with Jinja's whitespace control as transformers sets it for chat
// templates (trim_blocks and lstrip_blocks on; `{%-`/`-%}` strip all whitespace on that side,
// `{%+`/`+%}` keep it), newlines normalised to "\n" and one trailing newline dropped.
#include <string>
#include <string_view>
#include <vector>

namespace mmfree::jinja {

enum class Tok { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Op, End };

struct Token {
  Tok type;
  std::string text;  // Text: the text; Name: the name; String: its value; Int: its digits; Op: the operator
  int line = 1, column = 1;
};

// Throws Error naming the line and column of the first thing that is not a token.
std::vector<Token> tokenize(std::string_view source);

}  // namespace mmfree::jinja

#pragma once
// A Jinja template as Hugging Face chat templates are written: parsed once, rendered per request
// with the variables given (messages, bos_token, ...), under the bounds of jinja::Limits.
//
// The subset: text, {{ }}, {# #}, if/elif/else, for (loop.index/index0/first/last/length/...,
// `if` filter, else, break, continue), set (names and namespace attributes), macros (parameters
// with defaults, called by position or keyword, recursion bounded), expressions with
// and/or/not, comparisons, in, + - * // % ** ~, literals, lists, dicts, attributes, items, slices,
// conditional expressions, the filters and tests of builtins.h, string and dict methods, and
// raise_exception / namespace / range / strftime_now. Numbers are 64-bit integers (no floats).
// Whitespace is handled as transformers renders chat templates (trim_blocks, lstrip_blocks).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "jinja/budget.h"
#include "jinja/error.h"
#include "jinja/value.h"

namespace mmfree::jinja {

struct Stmt;

class Template {
 public:
  // Throws Error naming the line and column of what cannot be parsed.
  explicit Template(std::string_view source, Limits limits = {});
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // `variables` is a dict. Throws RaisedError for the template's raise_exception(...), Error
  // (naming the line) for anything else that goes wrong. Safe to call from several threads at once.
  std::string render(const Value& variables) const;

 private:
  std::unique_ptr<std::vector<Stmt>> body_;
  Limits limits_;
};

}  // namespace mmfree::jinja

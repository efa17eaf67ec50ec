// The template engine of src/jinja/: the Jinja semantics chat templates rely on (cases in
// tests/data/jinja_semantics.json, whose expected text is jinja2's, re-checked by
// tests/jinja/check_with_jinja2.py), errors that name the line, and hostile templates (text from
// outside) each refused with one clear error within the limits, never a crash or a hang.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "jinja/json.h"
#include "jinja/template.h"

namespace mmfree::jinja {
namespace {

std::string render(const std::string& text, const nlohmann::ordered_json& vars = nlohmann::ordered_json::object(),
                   Limits limits = {}) {
  return Template(text, limits).render(from_json(vars));
}

// The message of the Error that parsing or rendering `text` throws ("" when none is thrown).
std::string error_of(const std::string& text, Limits limits = {}) {
  try {
    render(text, nlohmann::ordered_json::object(), limits);
  } catch (const RaisedError& e) {
    return std::string("raised: ") + e.what();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JinjaEngine, SemanticsAsJinja2) {
  std::ifstream f(std::string(MMFREE_SOURCE_DIR) + "/tests/data/jinja_semantics.json");
  const auto fixture = nlohmann::ordered_json::parse(f);
  ASSERT_GE(fixture["cases"].size(), 30u);
  for (const auto& c : fixture["cases"]) {
    const std::string text = c["template"].get<std::string>();
    SCOPED_TRACE(text);
    EXPECT_EQ(render(text, c["variables"]), c["expected"].get<std::string>());
  }
}

TEST(JinjaEngine, RaiseExceptionCarriesItsMessage) {
  EXPECT_EQ(error_of("{% if true %}{{ raise_exception('bad role: ' ~ 3) }}{% endif %}"), "raised: bad role: 3");
}

TEST(JinjaEngine, ErrorsNameTheLineAndWhat) {
  EXPECT_EQ(error_of("a\n{{ x.y }}"), "line 2: undefined 'x' has no attribute 'y'");
  EXPECT_EQ(error_of("a\nb {{ 'a' + 1 }}"), "line 2: '+' is not defined for a string and an integer");
  EXPECT_EQ(error_of("{{ x|nosuch }}"), "line 1: column 6: the filter 'nosuch' is not supported by this template engine");
  EXPECT_EQ(error_of("{% filter upper %}x{% endfilter %}"),
            "line 1: column 4: the tag 'filter' is not supported by this template engine (it knows if, for, set, macro, break, continue)");
  EXPECT_EQ(error_of("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}"), "line 1: the macro 'm' takes 1 arguments, got 2");
  EXPECT_EQ(error_of("{% macro m(a) %}{% endmacro %}{{ m(b=1) }}"), "line 1: the macro 'm' has no parameter 'b'");
  EXPECT_EQ(error_of("{% macro m(a) %}{% endmacro %}{{ m(1, a=1) }}"), "line 1: the macro 'm' got 'a' twice");
  EXPECT_EQ(error_of("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}"), "line 1: macros called within each other deeper than 16");
  EXPECT_EQ(error_of("{{ 1.5 }}"), "line 1: column 4: floating-point numbers are not supported by this template engine");
  EXPECT_EQ(error_of("{{ 7 / 2 }}"), "line 1: '/' gives a float, which this template engine does not support (use '//')");
  EXPECT_EQ(error_of("{{ undefined_function() }}"), "line 1: 'undefined_function' is undefined, so it cannot be called");
  EXPECT_EQ(error_of("{% set ns = namespace() %}{% set ns.me = ns %}"),
            "line 1: a namespace cannot be stored inside a list, a dict or another namespace");
  EXPECT_EQ(error_of("{% set x = 1 %}{% set x.a = 2 %}"), "line 1: cannot set an attribute of an integer (only of a namespace())");
  EXPECT_EQ(error_of("{{ 9223372036854775807 + 1 }}"), "line 1: integer overflow in '+'");
  EXPECT_EQ(error_of("{{ 99999999999999999999 }}"), "line 1: column 4: the number 99999999999999999999 does not fit in 64 bits");
  EXPECT_EQ(error_of("{{ 1 // 0 }}"), "line 1: division by zero");
}

// Unfinished and malformed templates: each a parse error naming where, none a crash.
TEST(JinjaEngine, MalformedTemplatesAreRefused) {
  const std::pair<const char*, const char*> cases[] = {
      {"{{ x", "line 1: column 1: the tag '{{' is never closed with '}}'"},
      {"{% if x %}", "the template ends inside a block: expected 'elif' or 'else' or 'endif'"},
      {"{% for m in messages %}x", "the template ends inside a block: expected 'else' or 'endfor'"},
      {"{% endif %}", "'endif' without a block it closes"},
      {"{% if %}", "expected a value, found '%}'"},
      {"{# never closed", "the comment '{#' is never closed with '#}'"},
      {"{{ 'open }}", "a string is never closed"},
      {"{{ (1 }}", "column 7: unexpected '}', expected ')'"},
      {"{{ [1, 2 }}", "column 10: unexpected '}', expected ']'"},
      {"{{ x) }}", "unexpected ')'"},
      {"{{ a b }}", "expected '}}', found 'b'"},
      {"{% break %}", "'break' outside a for loop"},
      {"{% for a, b, c in x %}{% endfor %}", "a for loop unpacks at most two variables here"},
      {"{{ x | }}", "expected a filter name after '|'"},
      {"{{ x is }}", "expected a test name after 'is'"},
      {"{{ x is nosuch }}", "the test 'nosuch' is not supported"},
      {"{{ f(a=1, 2) }}", "a positional argument after a keyword argument"},
      {"{{ x[] }}", "an empty subscript '[]'"},
      {"{{ x[1:2:3:4] }}", "a slice has at most three parts"},
      {"{{ '\\u12' }}", "malformed \\x, \\u or \\U escape"},
      {"{{ '\\ud800' }}", "escapes a code point that is not valid"},
      {"{{ @ }}", "unexpected character '@'"},
      {"{% set %}", "expected a variable name"},
      {"{% set x %}{% endset %}", "block 'set' (with 'endset') is not supported"},
      {"{% raw %}{% endraw %}", "the tag 'raw' is not supported"},
      {"{% macro m(a=1, b) %}{% endmacro %}", "a parameter without a default after one with a default"},
      {"{% macro m() %}{% break %}{% endmacro %}", "'break' outside a for loop"},
      {"{% for x in y %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}", "'continue' outside a for loop"},
      {"{% macro m( %}{% endmacro %}", "unexpected '}', expected ')'"},
      {"{% for x in y recursive %}{% endfor %}", "recursive loops are not supported"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(text);
    const std::string e = error_of(text);
    EXPECT_NE(e.find(message), std::string::npos) << e;
    EXPECT_EQ(e.rfind("line ", 0), 0u) << e;
  }
}

TEST(JinjaEngine, DeepNestingIsRefusedNotRecursedInto) {
  std::string parens(100000, '(');
  EXPECT_NE(error_of("{{ " + parens + "1" + std::string(100000, ')') + " }}").find("nested deeper than 64"), std::string::npos);
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
  EXPECT_NE(error_of(ifs).find("nested deeper than 64"), std::string::npos);
  // Chains are parsed in loops, so their depth is bounded separately.
  std::string sum = "{{ 1";
  for (int i = 0; i < 100000; ++i) sum += " + 1";
  EXPECT_NE(error_of(sum + " }}").find("an expression nested deeper than 64 levels"), std::string::npos);
  std::string attrs = "{{ x";
  for (int i = 0; i < 100000; ++i) attrs += ".a";
  EXPECT_NE(error_of(attrs + " }}").find("an expression nested deeper than 64 levels"), std::string::npos);
  std::string nots = "{{ ";
  for (int i = 0; i < 100000; ++i) nots += "not ";
  EXPECT_NE(error_of(nots + "x }}").find("nested deeper than 64"), std::string::npos);
  // A value that nests a list in itself, once per iteration.
  EXPECT_NE(error_of("{% set ns = namespace(l=[]) %}{% for i in range(100) %}{% set ns.l = [ns.l] %}{% endfor %}")
                .find("lists and dicts nested deeper than 32 levels"),
            std::string::npos);
}

TEST(JinjaEngine, WorkIsBounded) {
  Limits small;
  small.max_loop_iterations = 1000;
  small.max_output_bytes = 1 << 16;
  small.max_steps = 100000;
  EXPECT_EQ(error_of("{% for i in range(2000) %}{% endfor %}", small), "line 1: range() of more than 1000 numbers");
  EXPECT_EQ(error_of("{% for i in range(600) %}{% for j in range(600) %}{% endfor %}{% endfor %}", small),
            "line 1: the template's loops run more than 1000 times");
  EXPECT_EQ(error_of("{% for i in range(900) %}{{ 'x' * 100 }}{% endfor %}", small),
            "line 1: the rendered text is longer than 65536 bytes");
  // A string that doubles each time: refused at the bound, not after 2^60 bytes.
  EXPECT_EQ(error_of("{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", small),
            "line 1: the template makes a string of more than 65536 bytes");
  EXPECT_EQ(error_of("{{ 'x' * 9223372036854775807 }}", small), "line 1: the template makes a string of more than 65536 bytes");
  // Quadratic work in few iterations: `in` over a long list, many times.
  EXPECT_EQ(error_of("{% set l = range(1000)|list %}{% for i in range(1000) %}{{ 5000 in l }}{% endfor %}", small),
            "line 1: the template does more than 100000 steps of work");
  // A list of lists shared 2^30 ways: printing it is bounded by the steps, not by memory.
  Limits long_text = small;
  long_text.max_output_bytes = 1 << 24;
  EXPECT_EQ(error_of("{% set ns = namespace(l=[1]) %}{% for i in range(30) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}", long_text),
            "line 1: the template does more than 100000 steps of work");
  // Work on long strings is counted by their length: 1000 lookups in a 64 KB string.
  EXPECT_EQ(error_of("{% set s = 'x' * 65000 %}{% for i in range(1000) %}{{ s|length }}{% endfor %}", small),
            "line 1: the template does more than 100000 steps of work");
  EXPECT_EQ(error_of("{% set s = 'x' * 65000 %}{% for i in range(1000) %}{{ s[i] }}{% endfor %}", small),
            "line 1: the template does more than 100000 steps of work");
  // Lists stay small whatever the steps allow: a list that doubles, a long string's characters.
  EXPECT_EQ(error_of("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"),
            "line 1: a list of more than 65536 items");
  EXPECT_EQ(error_of("{{ ('ab' * 100000)|list|length }}"), "line 1: a list of more than 65536 items");
  EXPECT_EQ(error_of("{{ ('a,' * 100000).split(',')|length }}"), "line 1: a list of more than 65536 items");
  EXPECT_EQ(error_of("{{ range(100000)|length }}"), "line 1: a list of more than 65536 items");
  Limits tiny_text;
  tiny_text.max_template_bytes = 10;
  EXPECT_EQ(error_of("{{ 'more than ten bytes' }}", tiny_text), "the template is 27 bytes, more than the limit of 10");
}

TEST(JinjaEngine, RendersFromSeveralThreadsAtOnce) {
  const Template t("{% for m in messages %}{{ m }}{% endfor %}");
  std::vector<std::thread> threads;
  std::vector<std::string> out(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 200; ++k) out[static_cast<size_t>(i)] = t.render(from_json({{"messages", {i, i + 1}}}));
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[static_cast<size_t>(i)], std::to_string(i) + std::to_string(i + 1));
}

}  // namespace
}  // namespace mmfree::jinja

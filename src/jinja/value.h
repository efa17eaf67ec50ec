#pragma once
// The values a chat template computes with: Python's as Jinja sees them (None, bool, int, str,
// list, dict), Jinja's Undefined, namespace() objects and the built-in functions. Lists and dicts
// are immutable and shared; a namespace is the one mutable value ({% set ns.x = ... %}), and it
// cannot be stored inside another value, so no value can reach itself.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mmfree::jinja {

struct Stmt;
class Value;
using List = std::vector<Value>;
using Dict = std::vector<std::pair<std::string, Value>>;  // in insertion order, as Python's dicts

enum class Kind { Undefined, None, Bool, Int, String, List, Dict, Namespace, Function };

class Value {
 public:
  Value() = default;  // Undefined
  static Value undefined(std::string name) {
    Value v;
    v.str_ = std::make_shared<const std::string>(std::move(name));
    return v;
  }
  static Value none() { return Value(Kind::None); }
  static Value boolean(bool b) {
    Value v(Kind::Bool);
    v.int_ = b;
    return v;
  }
  static Value integer(int64_t i) {
    Value v(Kind::Int);
    v.int_ = i;
    return v;
  }
  static Value string(std::string s) {
    Value v(Kind::String);
    v.str_ = std::make_shared<const std::string>(std::move(s));
    return v;
  }
  static Value list(List items);
  static Value dict(Dict items);
  static Value new_namespace(Dict items);
  static Value function(std::string name) {
    Value v(Kind::Function);
    v.str_ = std::make_shared<const std::string>(std::move(name));
    return v;
  }
  // A {% macro %} of the template: a function whose body is that statement (which lives as long
  // as the template, longer than any value of a render).
  static Value macro(std::string name, const Stmt* definition) {
    Value v = function(std::move(name));
    v.macro_ = definition;
    return v;
  }

  Kind kind() const { return kind_; }
  bool is(Kind k) const { return kind_ == k; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }
  int64_t as_int() const { return int_; }  // Bool and Int
  const std::string& as_string() const { return *str_; }  // String; Function: its name
  const Stmt* macro() const { return macro_; }  // Function: its {% macro %}, nullptr for a built-in
  const std::string& undefined_name() const;  // what was looked up and not found ("" when unknown)
  const List& as_list() const { return *list_; }
  const Dict& as_dict() const { return *dict_; }  // Dict and Namespace
  // Nesting of lists and dicts (a scalar is 0), bounded so that every walk over a value is shallow.
  int depth() const { return depth_; }

  // A dict's (or namespace's) entry, or nullptr.
  const Value* find(std::string_view key) const;
  // Namespace only: sets an attribute (the namespace is shared by every copy of this value).
  void set_attribute(const std::string& key, Value v) const;

  bool truthy() const;

 private:
  explicit Value(Kind k) : kind_(k) {}
  Kind kind_ = Kind::Undefined;
  int64_t int_ = 0;
  int depth_ = 0;
  std::shared_ptr<const std::string> str_;
  std::shared_ptr<const List> list_;
  std::shared_ptr<Dict> dict_;  // mutable only through set_attribute, for namespaces
  const Stmt* macro_ = nullptr;
};

// Deepest nesting of lists and dicts a value may have.
inline constexpr int kMaxValueDepth = 32;
// Most items one list may hold (chat templates hold messages: 1024 at most in the server), so that
// no list a template builds (range(), split(), a string's characters, list + list) is a huge
// allocation. Throws Error when `n` is beyond it.
inline constexpr size_t kMaxListItems = size_t{1} << 16;
void check_list_size(size_t n);

}  // namespace mmfree::jinja

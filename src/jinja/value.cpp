#include "jinja/value.h"

#include <algorithm>

#include "jinja/error.h"

namespace mmfree::jinja {

namespace {

int depth_of(const Value& v, int deepest) {
  if (v.is(Kind::Namespace)) throw Error("a namespace cannot be stored inside a list, a dict or another namespace");
  return std::max(deepest, v.depth());
}

int nested_depth(int deepest) {
  if (deepest + 1 > kMaxValueDepth) {
    throw Error("lists and dicts nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  }
  return deepest + 1;
}

}  // namespace

void check_list_size(size_t n) {
  if (n > kMaxListItems) throw Error("a list of more than " + std::to_string(kMaxListItems) + " items");
}

Value Value::list(List items) {
  check_list_size(items.size());
  int deepest = 0;
  for (const Value& v : items) deepest = depth_of(v, deepest);
  Value v(Kind::List);
  v.depth_ = nested_depth(deepest);
  v.list_ = std::make_shared<const List>(std::move(items));
  return v;
}

Value Value::dict(Dict items) {
  int deepest = 0;
  for (const auto& kv : items) deepest = depth_of(kv.second, deepest);
  Value v(Kind::Dict);
  v.depth_ = nested_depth(deepest);
  v.dict_ = std::make_shared<Dict>(std::move(items));
  return v;
}

Value Value::new_namespace(Dict items) {
  Value v = dict(std::move(items));
  v.kind_ = Kind::Namespace;
  return v;
}

const std::string& Value::undefined_name() const {
  static const std::string none;
  return str_ ? *str_ : none;
}

const Value* Value::find(std::string_view key) const {
  if (!dict_) return nullptr;
  for (const auto& kv : *dict_) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

void Value::set_attribute(const std::string& key, Value v) const {
  depth_of(v, 0);
  nested_depth(v.depth());
  for (auto& kv : *dict_) {
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  }
  dict_->emplace_back(key, std::move(v));
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool:
    case Kind::Int: return int_ != 0;
    case Kind::String: return !str_->empty();
    case Kind::List: return !list_->empty();
    case Kind::Dict: return !dict_->empty();
    case Kind::Namespace:
    case Kind::Function: return true;
  }
  return false;
}

}  // namespace mmfree::jinja

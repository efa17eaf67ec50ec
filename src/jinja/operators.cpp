#include "jinja/operators.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "jinja/error.h"
#include "jinja/text.h"

namespace mmfree::jinja {

namespace {

Value checked(bool overflow, const int64_t& v, const std::string& op) {
  if (overflow) throw Error("integer overflow in '" + op + "'");
  return Value::integer(v);
}

// Python's floor division and modulo (the result takes the divisor's sign).
int64_t floor_div(int64_t a, int64_t b) {
  if (b == 0) throw Error("division by zero");
  if (a == INT64_MIN && b == -1) throw Error("integer overflow in '//'");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  if (b == 0) throw Error("modulo by zero");
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

int64_t power(int64_t base, int64_t exp) {
  if (exp < 0) throw Error("a negative power gives a float, which this template engine does not support");
  int64_t r = 1;
  for (int64_t i = 0; i < exp; ++i) {
    if (__builtin_mul_overflow(r, base, &r)) throw Error("integer overflow in '**'");
    if (r == 0 || r == 1) break;
  }
  return r;
}

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  throw Error("'" + op + "' is not defined for " + kind_name(a) + " and " + kind_name(b));
}

// Python index i of a sequence of n items (negative counts from the end); -1 when outside.
int64_t python_index(int64_t i, size_t n) {
  const auto len = static_cast<int64_t>(n);
  if (i < 0) i += len;
  return i >= 0 && i < len ? i : -1;
}

}  // namespace

std::string kind_name(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return v.undefined_name().empty() ? "an undefined value" : "undefined '" + v.undefined_name() + "'";
    case Kind::None: return "none";
    case Kind::Bool: return "a boolean";
    case Kind::Int: return "an integer";
    case Kind::String: return "a string";
    case Kind::List: return "a list";
    case Kind::Dict: return "a dict";
    case Kind::Namespace: return "a namespace";
    case Kind::Function: return "a function";
  }
  return "a value";
}

bool equals(const Value& a, const Value& b, Budget& budget) {
  budget.spend(1);
  if (a.is_number() && b.is_number()) return a.as_int() == b.as_int();  // Python: True == 1
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String:
      budget.spend(static_cast<int64_t>(a.as_string().size() / 64));
      return a.as_string() == b.as_string();
    case Kind::List: {
      const List &x = a.as_list(), &y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i], budget)) return false;
      }
      return true;
    }
    case Kind::Dict: {
      if (a.as_dict().size() != b.as_dict().size()) return false;
      for (const auto& [k, v] : a.as_dict()) {
        const Value* w = b.find(k);
        if (!w || !equals(v, *w, budget)) return false;
      }
      return true;
    }
    case Kind::Namespace: return &a.as_dict() == &b.as_dict();
    case Kind::Function: return a.as_string() == b.as_string();
    default: return false;
  }
}

bool ordered(const std::string& op, const Value& a, const Value& b, Budget& budget) {
  budget.spend(1);
  int c = 0;  // <0, 0, >0
  if (a.is_number() && b.is_number()) {
    c = a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
  } else if (a.is(Kind::String) && b.is(Kind::String)) {
    budget.spend(static_cast<int64_t>(std::min(a.as_string().size(), b.as_string().size()) / 64));
    c = a.as_string().compare(b.as_string());  // UTF-8 byte order is code point order, as Python compares
  } else {
    unsupported(op, a, b);
  }
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  return c >= 0;
}

bool contains(const Value& container, const Value& item, Budget& budget) {
  switch (container.kind()) {
    case Kind::String:
      if (!item.is(Kind::String)) throw Error("'in <string>' needs a string on the left, not " + kind_name(item));
      budget.spend(1 + static_cast<int64_t>(container.as_string().size() / 16));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Kind::List:
      for (const Value& v : container.as_list()) {
        if (equals(v, item, budget)) return true;
      }
      return false;
    case Kind::Dict:
    case Kind::Namespace:
      budget.spend(static_cast<int64_t>(container.as_dict().size()));
      return item.is(Kind::String) && container.find(item.as_string()) != nullptr;
    case Kind::Undefined: return false;  // Jinja's Undefined iterates as empty
    default: throw Error("'in' needs a string, list or dict on the right, not " + kind_name(container));
  }
}

Value binary(const std::string& op, const Value& a, const Value& b, Budget& budget) {
  budget.spend(1);
  if (op == "~") {
    std::string s = to_str(a, budget);
    const std::string t = to_str(b, budget);
    budget.string_of(s.size() + t.size());
    return Value::string(s + t);
  }
  if (a.is_number() && b.is_number()) {
    const int64_t x = a.as_int(), y = b.as_int();
    int64_t r = 0;
    // r is read by reference, after the builtin has written it.
    if (op == "+") return checked(__builtin_add_overflow(x, y, &r), r, op);
    if (op == "-") return checked(__builtin_sub_overflow(x, y, &r), r, op);
    if (op == "*") return checked(__builtin_mul_overflow(x, y, &r), r, op);
    if (op == "//") return Value::integer(floor_div(x, y));
    if (op == "%") return Value::integer(floor_mod(x, y));
    if (op == "**") return Value::integer(power(x, y));
    throw Error("'/' gives a float, which this template engine does not support (use '//')");
  }
  if (op == "+" && a.is(Kind::String) && b.is(Kind::String)) {
    budget.string_of(a.as_string().size() + b.as_string().size());
    return Value::string(a.as_string() + b.as_string());
  }
  if (op == "+" && a.is(Kind::List) && b.is(Kind::List)) {
    check_list_size(a.as_list().size() + b.as_list().size());
    budget.spend(static_cast<int64_t>(a.as_list().size() + b.as_list().size()));
    List items = a.as_list();
    items.insert(items.end(), b.as_list().begin(), b.as_list().end());
    return Value::list(std::move(items));
  }
  if (op == "*" && a.is(Kind::String) && b.is(Kind::Int)) {
    const int64_t n = std::max<int64_t>(b.as_int(), 0);
    if (!a.as_string().empty() && static_cast<uint64_t>(n) > budget.limits().max_output_bytes / a.as_string().size()) {
      budget.string_of(budget.limits().max_output_bytes + 1);
    }
    budget.string_of(a.as_string().size() * static_cast<size_t>(n));
    std::string s;
    for (int64_t i = 0; i < n; ++i) s += a.as_string();
    return Value::string(std::move(s));
  }
  unsupported(op, a, b);
}

Value negate(const Value& v) {
  if (!v.is_number()) throw Error("'-' is not defined for " + kind_name(v));
  if (v.as_int() == INT64_MIN) throw Error("integer overflow in '-'");
  return Value::integer(-v.as_int());
}

Value attribute(const Value& obj, const std::string& name) {
  if (obj.is(Kind::Undefined)) {
    throw Error(kind_name(obj) + " has no attribute '" + name + "'");
  }
  if (obj.is(Kind::Dict) || obj.is(Kind::Namespace)) {
    if (const Value* v = obj.find(name)) return *v;
  }
  return Value::undefined(name);
}

Value item(const Value& obj, const Value& key, Budget& budget) {
  switch (obj.kind()) {
    case Kind::Undefined: throw Error(kind_name(obj) + " has no items");
    case Kind::Dict:
    case Kind::Namespace:
      if (key.is(Kind::String)) {
        if (const Value* v = obj.find(key.as_string())) return *v;
        return Value::undefined(key.as_string());
      }
      break;
    case Kind::List:
      if (key.is_number()) {
        const int64_t i = python_index(key.as_int(), obj.as_list().size());
        if (i >= 0) return obj.as_list()[static_cast<size_t>(i)];
      }
      break;
    case Kind::String:
      if (key.is_number()) {
        budget.spend(1 + static_cast<int64_t>(obj.as_string().size() / 64));  // finding the character reads the string
        const std::vector<size_t> at = code_points(obj.as_string());
        const int64_t i = python_index(key.as_int(), at.size() - 1);
        if (i >= 0) return Value::string(obj.as_string().substr(at[static_cast<size_t>(i)], at[static_cast<size_t>(i) + 1] - at[static_cast<size_t>(i)]));
      }
      break;
    default: break;
  }
  return Value::undefined(key.is(Kind::String) ? key.as_string() : "");
}

Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step, Budget& budget) {
  const auto bound = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is(Kind::Undefined) || v.is(Kind::None)) return std::nullopt;
    if (!v.is_number()) throw Error(std::string("a slice's ") + what + " must be an integer, not " + kind_name(v));
    return v.as_int();
  };
  const int64_t st = bound(step, "step").value_or(1);
  if (st == 0) throw Error("a slice's step cannot be zero");
  const bool is_string = obj.is(Kind::String);
  if (!is_string && !obj.is(Kind::List)) throw Error("cannot slice " + kind_name(obj));
  std::vector<size_t> at;
  if (is_string) {
    budget.spend(static_cast<int64_t>(obj.as_string().size() / 64));
    at = code_points(obj.as_string());
  }
  const int64_t n = static_cast<int64_t>(is_string ? at.size() - 1 : obj.as_list().size());
  // Python's PySlice_AdjustIndices.
  const auto adjust = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t i = *v;
    if (i < 0) i = std::max<int64_t>(i + n, st < 0 ? -1 : 0);
    else if (i >= n) i = st < 0 ? n - 1 : n;
    return i;
  };
  const int64_t lo = adjust(bound(start, "start"), st < 0 ? n - 1 : 0);
  const int64_t hi = adjust(bound(stop, "stop"), st < 0 ? -1 : n);
  std::vector<int64_t> picks;
  for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) picks.push_back(i);
  budget.spend(static_cast<int64_t>(picks.size()));
  if (is_string) {
    std::string s;
    for (const int64_t i : picks) s += obj.as_string().substr(at[static_cast<size_t>(i)], at[static_cast<size_t>(i) + 1] - at[static_cast<size_t>(i)]);
    return Value::string(std::move(s));
  }
  List items;
  for (const int64_t i : picks) items.push_back(obj.as_list()[static_cast<size_t>(i)]);
  return Value::list(std::move(items));
}

List iterate(const Value& v, Budget& budget) {
  switch (v.kind()) {
    case Kind::Undefined: return {};
    case Kind::List: return v.as_list();
    case Kind::Dict: {
      List keys;
      for (const auto& kv : v.as_dict()) keys.push_back(Value::string(kv.first));
      return keys;
    }
    case Kind::String: {
      budget.spend(static_cast<int64_t>(v.as_string().size()));
      const std::vector<size_t> at = code_points(v.as_string());
      check_list_size(at.size() - 1);
      List chars;
      for (size_t i = 0; i + 1 < at.size(); ++i) chars.push_back(Value::string(v.as_string().substr(at[i], at[i + 1] - at[i])));
      return chars;
    }
    default: throw Error(kind_name(v) + " cannot be iterated over");
  }
}

}  // namespace mmfree::jinja

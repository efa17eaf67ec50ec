#include "jinja/builtins.h"

#include <algorithm>
#include <climits>
#include <ctime>
#include <optional>
#include <set>

#include "jinja/error.h"
#include "jinja/operators.h"
#include "jinja/text.h"

namespace mmfree::jinja {

namespace {

// The arguments of one call: positional by index, or by keyword; anything not asked for is an error.
class Params {
 public:
  Params(std::string what, const Args& args, const Kwargs& kwargs, std::vector<std::string> names)
      : what_(std::move(what)), args_(args), kwargs_(kwargs), names_(std::move(names)) {
    if (args.size() > names_.size()) {
      throw Error(what_ + " takes at most " + std::to_string(names_.size()) + " arguments, got " + std::to_string(args.size()));
    }
    for (const auto& [k, v] : kwargs) {
      const auto at = std::find(names_.begin(), names_.end(), k);
      if (at == names_.end()) throw Error(what_ + " has no argument '" + k + "'");
      if (static_cast<size_t>(at - names_.begin()) < args.size()) throw Error(what_ + " got '" + k + "' twice");
    }
  }
  // The argument named `name`, or nullptr when not given.
  const Value* get(const std::string& name) const {
    const size_t i = static_cast<size_t>(std::find(names_.begin(), names_.end(), name) - names_.begin());
    if (i < args_.size()) return &args_[i];
    for (const auto& [k, v] : kwargs_) {
      if (k == name) return &v;
    }
    return nullptr;
  }
  const Value& need(const std::string& name) const {
    const Value* v = get(name);
    if (!v) throw Error(what_ + " needs the argument '" + name + "'");
    return *v;
  }
  std::string string(const std::string& name, const std::string& fallback) const {
    const Value* v = get(name);
    if (!v || v->is(Kind::None)) return fallback;
    if (!v->is(Kind::String)) throw Error(what_ + ": '" + name + "' must be a string, not " + kind_name(*v));
    return v->as_string();
  }
  std::optional<int64_t> integer(const std::string& name) const {
    const Value* v = get(name);
    if (!v || v->is(Kind::None)) return std::nullopt;
    if (!v->is_number()) throw Error(what_ + ": '" + name + "' must be an integer, not " + kind_name(*v));
    return v->as_int();
  }

 private:
  std::string what_;
  const Args& args_;
  const Kwargs& kwargs_;
  std::vector<std::string> names_;
};

const std::string& need_string(const Value& v, const std::string& what) {
  if (!v.is(Kind::String)) throw Error(what + " needs a string, not " + kind_name(v));
  return v.as_string();
}

Value length(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return Value::integer(0);
    case Kind::String: return Value::integer(static_cast<int64_t>(code_point_count(v.as_string())));
    case Kind::List: return Value::integer(static_cast<int64_t>(v.as_list().size()));
    case Kind::Dict:
    case Kind::Namespace: return Value::integer(static_cast<int64_t>(v.as_dict().size()));
    default: throw Error("length: " + kind_name(v) + " has no length");
  }
}

Value items_of(const Value& v) {
  if (v.is(Kind::Undefined)) return Value::list({});
  if (!v.is(Kind::Dict)) throw Error("items: needs a dict, not " + kind_name(v));
  List pairs;
  for (const auto& [k, item] : v.as_dict()) pairs.push_back(Value::list({Value::string(k), item}));
  return Value::list(std::move(pairs));
}

Value replace(const std::string& s, const std::string& from, const std::string& to, std::optional<int64_t> count,
              Budget& budget) {
  std::string out;
  size_t pos = 0;
  int64_t done = 0;
  const bool unlimited = !count || *count < 0;
  if (from.empty()) {  // Python inserts `to` between every character (and at both ends)
    const std::vector<size_t> at = code_points(s);
    for (size_t i = 0; i < at.size(); ++i) {
      if (unlimited || done < *count) {
        out += to;
        ++done;
      }
      if (i + 1 < at.size()) out += s.substr(at[i], at[i + 1] - at[i]);
      budget.string_of(out.size());
    }
    return Value::string(std::move(out));
  }
  for (size_t hit; (unlimited || done < *count) && (hit = s.find(from, pos)) != std::string::npos; ++done) {
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
    budget.string_of(out.size());
  }
  out.append(s, pos);
  budget.string_of(out.size());
  return Value::string(std::move(out));
}

Value split(const std::string& s, const Value* sep_value, std::optional<int64_t> maxsplit, Budget& budget) {
  List parts;
  const int64_t most = maxsplit && *maxsplit >= 0 ? *maxsplit : INT64_MAX;
  budget.spend(1 + static_cast<int64_t>(s.size() / 16));
  if (!sep_value || sep_value->is(Kind::None)) {  // runs of whitespace, none at the ends
    const char* ws = " \t\n\r\v\f";
    size_t pos = s.find_first_not_of(ws);
    while (pos != std::string::npos) {
      check_list_size(parts.size() + 1);
      if (static_cast<int64_t>(parts.size()) == most) {
        parts.push_back(Value::string(strip(s.substr(pos), nullptr, false, true)));
        break;
      }
      const size_t end = s.find_first_of(ws, pos);
      parts.push_back(Value::string(s.substr(pos, end == std::string::npos ? std::string::npos : end - pos)));
      pos = end == std::string::npos ? end : s.find_first_not_of(ws, end);
    }
    return Value::list(std::move(parts));
  }
  const std::string& sep = need_string(*sep_value, "split");
  if (sep.empty()) throw Error("split: empty separator");
  size_t pos = 0;
  for (size_t hit; static_cast<int64_t>(parts.size()) < most && (hit = s.find(sep, pos)) != std::string::npos;) {
    check_list_size(parts.size() + 2);
    parts.push_back(Value::string(s.substr(pos, hit - pos)));
    pos = hit + sep.size();
  }
  parts.push_back(Value::string(s.substr(pos)));
  return Value::list(std::move(parts));
}

Value join(const Value& seq, const std::string& sep, const std::string& attribute, Budget& budget) {
  std::string out;
  bool first = true;
  for (const Value& v : iterate(seq, budget)) {
    if (!first) out += sep;
    first = false;
    out += to_str(attribute.empty() ? v : jinja::attribute(v, attribute), budget);
    budget.string_of(out.size());
  }
  return Value::string(std::move(out));
}

bool starts_or_ends(const std::string& s, const Value& affix, bool start) {
  const auto one = [&](const Value& a) {
    const std::string& x = need_string(a, start ? "startswith" : "endswith");
    return s.size() >= x.size() && s.compare(start ? 0 : s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is(Kind::List)) return std::any_of(affix.as_list().begin(), affix.as_list().end(), one);
  return one(affix);
}

// select / reject / selectattr / rejectattr: keep the items whose test (or truth) is `keep`.
Value select(const Value& seq, const Args& args, bool by_attribute, bool keep, Budget& budget) {
  const std::string what = std::string(keep ? "select" : "reject") + (by_attribute ? "attr" : "");
  size_t next = 0;
  std::string attr;
  if (by_attribute) {
    if (args.empty()) throw Error(what + " needs an attribute name");
    attr = need_string(args[next++], what);
  }
  std::string test;
  if (next < args.size()) test = need_string(args[next++], what);
  if (!test.empty() && !is_test(test)) throw Error(what + ": the test '" + test + "' is not supported by this template engine");
  const Args test_args(args.begin() + static_cast<std::ptrdiff_t>(next), args.end());
  List out;
  for (const Value& v : iterate(seq, budget)) {
    const Value subject = by_attribute ? attribute(v, attr) : v;
    const bool passes = test.empty() ? subject.truthy() : apply_test(test, subject, test_args, budget);
    if (passes == keep) out.push_back(v);
  }
  return Value::list(std::move(out));
}

Value map_attribute(const Value& seq, const Args& args, const Kwargs& kwargs, Budget& budget) {
  const Params p("map", args, kwargs, {"filter", "attribute", "default"});
  List out;
  const Value* filter = p.get("filter");
  if (filter && !is_filter(need_string(*filter, "map"))) throw Error("map: the filter '" + filter->as_string() + "' is not supported by this template engine");
  const std::string attr = p.string("attribute", "");
  if (!filter && attr.empty()) throw Error("map needs a filter name or attribute=");
  for (const Value& v : iterate(seq, budget)) {
    if (filter) {
      out.push_back(apply_filter(filter->as_string(), v, {}, {}, budget));
    } else {
      Value a = attribute(v, attr);
      if (a.is(Kind::Undefined) && p.get("default")) a = *p.get("default");
      out.push_back(std::move(a));
    }
  }
  return Value::list(std::move(out));
}

const std::set<std::string>& filters() {
  static const std::set<std::string> names = {
      "trim", "length", "count", "upper", "lower", "capitalize", "title", "first", "last", "join", "default", "d",
      "tojson", "string", "int", "list", "items", "replace", "reverse", "safe", "select", "reject", "selectattr",
      "rejectattr", "map", "abs"};
  return names;
}

const std::set<std::string>& tests() {
  static const std::set<std::string> names = {"defined", "undefined", "none", "boolean", "true", "false", "integer",
                                              "number", "string", "mapping", "iterable", "sequence", "callable",
                                              "odd", "even", "divisibleby", "eq", "equalto", "ne", "in"};
  return names;
}

}  // namespace

bool is_filter(const std::string& name) { return filters().count(name) > 0; }
bool is_test(const std::string& name) { return tests().count(name) > 0; }

Value apply_filter(const std::string& name, const Value& v, const Args& args, const Kwargs& kwargs, Budget& budget) {
  budget.spend(1 + (v.is(Kind::String) ? static_cast<int64_t>(v.as_string().size() / 64) : 0));  // most read the whole string
  const auto params = [&](std::vector<std::string> names) { return Params("the filter '" + name + "'", args, kwargs, std::move(names)); };
  if (name == "trim") {
    const Params p = params({"chars"});
    const std::string chars = p.string("chars", "");
    return Value::string(strip(to_str(v, budget), p.get("chars") ? &chars : nullptr, true, true));
  }
  if (name == "length" || name == "count") {
    params({});
    return length(v);
  }
  if (name == "upper") {
    params({});
    return Value::string(ascii_upper(to_str(v, budget)));
  }
  if (name == "lower") {
    params({});
    return Value::string(ascii_lower(to_str(v, budget)));
  }
  if (name == "capitalize") {
    params({});
    return Value::string(capitalize(to_str(v, budget)));
  }
  if (name == "title") {
    params({});
    return Value::string(title(to_str(v, budget)));
  }
  if (name == "string") {
    params({});
    return Value::string(to_str(v, budget));
  }
  if (name == "safe") {
    params({});
    return v;
  }
  if (name == "first" || name == "last") {
    params({});
    const List items = iterate(v, budget);
    if (items.empty()) return Value::undefined(name);
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    const Params p = params({"d", "attribute"});
    return join(v, p.string("d", ""), p.string("attribute", ""), budget);
  }
  if (name == "default" || name == "d") {
    const Params p = params({"default_value", "boolean"});
    const Value* fallback = p.get("default_value");
    const bool boolean = p.get("boolean") && p.get("boolean")->truthy();
    if (v.is(Kind::Undefined) || (boolean && !v.truthy())) return fallback ? *fallback : Value::string("");
    return v;
  }
  if (name == "tojson") {
    const Params p("the filter 'tojson'", args, kwargs, {"indent", "ensure_ascii", "separators", "sort_keys"});
    for (const char* unsupported : {"ensure_ascii", "separators", "sort_keys"}) {
      if (p.get(unsupported)) throw Error(std::string("the filter 'tojson': '") + unsupported + "' is not supported by this template engine");
    }
    const std::optional<int64_t> indent = p.integer("indent");
    if (indent && (*indent < 0 || *indent > 16)) throw Error("the filter 'tojson': indent must be in [0, 16]");
    return Value::string(to_json(v, indent ? static_cast<int>(*indent) : -1, budget));
  }
  if (name == "int") {
    const Params p = params({"default"});
    if (v.is_number()) return Value::integer(v.as_int());
    if (v.is(Kind::String)) {
      const std::string s = strip(v.as_string(), nullptr, true, true);
      try {
        size_t used = 0;
        const long long x = std::stoll(s, &used, 10);
        if (used == s.size()) return Value::integer(x);
      } catch (const std::exception&) {
      }
    }
    return p.get("default") ? *p.get("default") : Value::integer(0);
  }
  if (name == "abs") {
    params({});
    return v.is_number() && v.as_int() < 0 ? negate(v) : v;
  }
  if (name == "list") {
    params({});
    return Value::list(iterate(v, budget));
  }
  if (name == "items") {
    params({});
    return items_of(v);
  }
  if (name == "replace") {
    const Params p = params({"old", "new", "count"});
    return replace(to_str(v, budget), need_string(p.need("old"), "replace"), need_string(p.need("new"), "replace"),
                   p.integer("count"), budget);
  }
  if (name == "reverse") {
    params({});
    List items = iterate(v, budget);
    std::reverse(items.begin(), items.end());
    if (!v.is(Kind::String)) return Value::list(std::move(items));
    std::string s;
    for (const Value& c : items) s += c.as_string();
    return Value::string(std::move(s));
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    if (!kwargs.empty()) throw Error("the filter '" + name + "' takes no keyword arguments");
    return select(v, args, name.size() > 6, name.rfind("select", 0) == 0, budget);
  }
  if (name == "map") return map_attribute(v, args, kwargs, budget);
  throw Error("the filter '" + name + "' is not supported by this template engine");
}

bool apply_test(const std::string& name, const Value& v, const Args& args, Budget& budget) {
  budget.spend(1);
  const Kwargs none;
  const Params p("the test '" + name + "'", args, none,
                 name == "divisibleby" || name == "eq" || name == "equalto" || name == "ne" || name == "in" ? std::vector<std::string>{"other"}
                                                                                                            : std::vector<std::string>{});
  if (name == "defined") return !v.is(Kind::Undefined);
  if (name == "undefined") return v.is(Kind::Undefined);
  if (name == "none") return v.is(Kind::None);
  if (name == "boolean") return v.is(Kind::Bool);
  if (name == "true") return v.is(Kind::Bool) && v.as_int() != 0;
  if (name == "false") return v.is(Kind::Bool) && v.as_int() == 0;
  if (name == "integer") return v.is(Kind::Int);
  if (name == "number") return v.is_number();
  if (name == "string") return v.is(Kind::String);
  if (name == "mapping") return v.is(Kind::Dict);
  if (name == "iterable") return v.is(Kind::String) || v.is(Kind::List) || v.is(Kind::Dict) || v.is(Kind::Undefined);
  if (name == "sequence") return v.is(Kind::String) || v.is(Kind::List) || v.is(Kind::Dict);
  if (name == "callable") return v.is(Kind::Function);
  if (name == "odd" || name == "even") {
    if (!v.is_number()) throw Error("the test '" + name + "' needs an integer, not " + kind_name(v));
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  const Value& other = p.need("other");
  if (name == "divisibleby") {
    if (!v.is_number() || !other.is_number()) throw Error("the test 'divisibleby' needs integers");
    if (other.as_int() == 0) throw Error("the test 'divisibleby': division by zero");
    return other.as_int() == -1 || v.as_int() % other.as_int() == 0;
  }
  if (name == "eq" || name == "equalto") return equals(v, other, budget);
  if (name == "ne") return !equals(v, other, budget);
  return contains(other, v, budget);  // "in"
}

bool call_method(const Value& receiver, const std::string& name, const Args& args, const Kwargs& kwargs, Budget& budget,
                 Value& result) {
  const auto params = [&](std::vector<std::string> names) { return Params(name + "()", args, kwargs, std::move(names)); };
  if (receiver.is(Kind::String)) {
    const std::string& s = receiver.as_string();
    budget.spend(1 + static_cast<int64_t>(s.size() / 64));
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      const Params p = params({"chars"});
      const std::string chars = p.string("chars", "");
      result = Value::string(strip(s, p.get("chars") && !p.get("chars")->is(Kind::None) ? &chars : nullptr, name != "rstrip", name != "lstrip"));
    } else if (name == "upper" || name == "lower") {
      params({});
      result = Value::string(name == "upper" ? ascii_upper(s) : ascii_lower(s));
    } else if (name == "title" || name == "capitalize") {
      params({});
      result = Value::string(name == "title" ? title(s) : capitalize(s));
    } else if (name == "startswith" || name == "endswith") {
      const Params p = params({"prefix"});
      result = Value::boolean(starts_or_ends(s, p.need("prefix"), name == "startswith"));
    } else if (name == "split") {
      const Params p = params({"sep", "maxsplit"});
      result = split(s, p.get("sep"), p.integer("maxsplit"), budget);
    } else if (name == "replace") {
      const Params p = params({"old", "new", "count"});
      result = replace(s, need_string(p.need("old"), "replace"), need_string(p.need("new"), "replace"), p.integer("count"), budget);
    } else if (name == "join") {
      const Params p = params({"iterable"});
      result = join(p.need("iterable"), s, "", budget);
    } else {
      return false;
    }
    return true;
  }
  if (receiver.is(Kind::Dict)) {
    budget.spend(1 + static_cast<int64_t>(receiver.as_dict().size()));
    if (name == "get") {
      const Params p = params({"key", "default"});
      const Value& key = p.need("key");
      const Value* v = key.is(Kind::String) ? receiver.find(key.as_string()) : nullptr;
      result = v ? *v : p.get("default") ? *p.get("default") : Value::none();
    } else if (name == "items") {
      params({});
      result = items_of(receiver);
    } else if (name == "keys" || name == "values") {
      params({});
      List out;
      for (const auto& [k, v] : receiver.as_dict()) out.push_back(name == "keys" ? Value::string(k) : v);
      result = Value::list(std::move(out));
    } else {
      return false;
    }
    return true;
  }
  return false;
}

std::vector<std::string> function_names() { return {"raise_exception", "namespace", "range", "strftime_now"}; }

Value call_function(const Value& function, const Args& args, const Kwargs& kwargs, Budget& budget) {
  budget.spend(1);
  const std::string& name = function.as_string();
  if (name == "raise_exception") {
    const Params p("raise_exception()", args, kwargs, {"message"});
    throw RaisedError(to_str(p.need("message"), budget));
  }
  if (name == "namespace") {
    if (args.size() > 1) throw Error("namespace() takes at most one positional argument (a dict)");
    Dict entries;
    if (!args.empty()) {
      if (!args[0].is(Kind::Dict)) throw Error("namespace() takes a dict, not " + kind_name(args[0]));
      entries = args[0].as_dict();
    }
    for (const auto& [k, v] : kwargs) entries.emplace_back(k, v);
    Value ns = Value::new_namespace({});
    for (auto& [k, v] : entries) ns.set_attribute(k, std::move(v));
    return ns;
  }
  if (name == "range") {
    if (!kwargs.empty() || args.empty() || args.size() > 3) throw Error("range() takes one to three integers");
    for (const Value& a : args) {
      if (!a.is_number()) throw Error("range() takes integers, not " + kind_name(a));
    }
    const int64_t start = args.size() > 1 ? args[0].as_int() : 0;
    const int64_t stop = args.size() > 1 ? args[1].as_int() : args[0].as_int();
    const int64_t step = args.size() > 2 ? args[2].as_int() : 1;
    if (step == 0) throw Error("range(): the step cannot be zero");
    const __int128 count = step > 0 ? (stop > start ? ((__int128)stop - start + step - 1) / step : 0)
                                    : (stop < start ? ((__int128)start - stop - step - 1) / -(__int128)step : 0);
    if (count > budget.limits().max_loop_iterations) {
      throw Error("range() of more than " + std::to_string(budget.limits().max_loop_iterations) + " numbers");
    }
    check_list_size(static_cast<size_t>(count));
    budget.spend(static_cast<int64_t>(count));
    List out;
    for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) out.push_back(Value::integer(start + i * step));
    return Value::list(std::move(out));
  }
  if (name == "strftime_now") {
    const Params p("strftime_now()", args, kwargs, {"format"});
    const std::string& format = need_string(p.need("format"), "strftime_now");
    if (format.size() > 64) throw Error("strftime_now(): a format of more than 64 bytes");
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buf[512];
    const size_t n = std::strftime(buf, sizeof buf, format.c_str(), &local);
    return Value::string(std::string(buf, n));
  }
  throw Error("'" + name + "' is not a function");
}

}  // namespace mmfree::jinja

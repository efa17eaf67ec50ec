#include "jinja/json.h"

#include "jinja/error.h"

namespace mmfree::jinja {

namespace {

Value convert(const nlohmann::ordered_json& j, int depth) {
  if (depth > kMaxValueDepth) throw Error("JSON nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned:
      if (j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) throw Error("a JSON integer beyond 64 bits");
      return Value::integer(static_cast<int64_t>(j.get<uint64_t>()));
    case nlohmann::ordered_json::value_t::string: return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List items;
      for (const auto& x : j) items.push_back(convert(x, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict entries;
      for (const auto& [k, x] : j.items()) entries.emplace_back(k, convert(x, depth + 1));
      return Value::dict(std::move(entries));
    }
    default: throw Error("a JSON floating-point number (this template engine has integers only)");
  }
}

}  // namespace

Value from_json(const nlohmann::ordered_json& j) { return convert(j, 0); }

}  // namespace mmfree::jinja

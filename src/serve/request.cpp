#include "serve/request.h"

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "serve/api_error.h"

namespace mmfree::serve {

namespace {

using json = nlohmann::json;

std::string range_text(double lo, double hi) {
  const auto num = [](double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);  // 0.500000 -> 0.5
    if (s.back() == '.') s.pop_back();
    return s;
  };
  return "[" + num(lo) + ", " + num(hi) + "]";
}

int64_t as_int(const json& v, const std::string& field, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) throw bad_field(field, "must be an integer");
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(hi) : true;
  const int64_t x = fits ? v.get<int64_t>() : hi;
  if (!fits || x < lo || x > hi) {
    throw bad_field(field, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + v.dump());
  }
  return x;
}

double as_number(const json& v, const std::string& field, double lo, double hi, bool lo_open = false) {
  if (!v.is_number()) throw bad_field(field, "must be a number");
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi || (lo_open && x == lo)) {
    throw bad_field(field, std::string("must be in ") + (lo_open ? "(" : "") + range_text(lo, hi).substr(lo_open ? 1 : 0) +
                               ", got " + v.dump());
  }
  return x;
}

bool as_bool(const json& v, const std::string& field) {
  if (!v.is_boolean()) throw bad_field(field, "must be true or false");
  return v.get<bool>();
}

std::string as_string(const json& v, const std::string& field) {
  if (!v.is_string()) throw bad_field(field, "must be a string");
  return v.get<std::string>();
}

// A field OpenAI defines that mmfree accepts only at its neutral value.
void neutral_only(const json& v, const std::string& field, const std::function<bool(const json&)>& neutral,
                  const std::string& instead) {
  if (!neutral(v)) throw bad_field(field, "is not supported by this server" + (instead.empty() ? "" : ": " + instead));
}

std::vector<int64_t> token_ids(const json& v, const std::string& field, int64_t vocab) {
  std::vector<int64_t> ids;
  ids.reserve(v.size());
  for (const json& t : v) ids.push_back(as_int(t, field + "[" + std::to_string(ids.size()) + "]", 0, vocab - 1));
  return ids;
}

void read_prompt(const json& v, ApiRequest& r, const RequestLimits& lim) {
  if (v.is_string()) {
    r.prompt_text = v.get<std::string>();
  } else if (v.is_array() && !v.empty() && v[0].is_number()) {
    r.prompt_ids = token_ids(v, "prompt", lim.vocab);
    r.prompt_is_ids = true;
  } else if (v.is_array() && v.size() == 1) {  // a batch of one: ["text"] or [[ids]]
    if (v[0].is_array() && !v[0].empty()) {
      r.prompt_ids = token_ids(v[0], "prompt[0]", lim.vocab);
      r.prompt_is_ids = true;
    } else {
      r.prompt_text = as_string(v[0], "prompt[0]");
    }
  } else {
    throw bad_field("prompt", "must be a string, an array of token ids, or an array of one of those (one prompt per request)");
  }
}

std::string message_content(const json& v, const std::string& field) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) throw bad_field(field, "must be a string or an array of text parts");
  std::string text;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string part = field + "[" + std::to_string(i) + "]";
    if (!v[i].is_object() || !v[i].contains("type") || v[i]["type"] != "text" || !v[i].contains("text")) {
      throw bad_field(part, "must be {\"type\": \"text\", \"text\": ...} (only text is understood)");
    }
    text += as_string(v[i]["text"], part + ".text");
  }
  return text;
}

void read_messages(const json& v, ApiRequest& r, const RequestLimits& lim) {
  if (!v.is_array() || v.empty()) throw bad_field("messages", "must be a non-empty array");
  if (static_cast<int64_t>(v.size()) > lim.max_messages) {
    throw bad_field("messages", "holds " + std::to_string(v.size()) + " messages, at most " + std::to_string(lim.max_messages));
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string f = "messages[" + std::to_string(i) + "]";
    if (!v[i].is_object()) throw bad_field(f, "must be an object {\"role\": ..., \"content\": ...}");
    ChatMessage m;
    bool has_content = false;
    for (const auto& [key, val] : v[i].items()) {
      if (key == "role") {
        m.role = as_string(val, f + ".role");
        if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "developer") {
          throw bad_field(f + ".role", "must be system, developer, user or assistant, got \"" + m.role + "\"");
        }
      } else if (key == "content") {
        m.content = message_content(val, f + ".content");
        has_content = true;
      } else if (key != "name") {
        throw bad_field(f + "." + key, "is not a field this server understands");
      }
    }
    if (m.role.empty()) throw bad_field(f + ".role", "is missing");
    if (!has_content) throw bad_field(f + ".content", "is missing");
    if (m.role == "developer") m.role = "system";  // OpenAI's newer name for it
    r.messages.push_back(std::move(m));
  }
}

void read_stops(const json& v, ApiRequest& r, const RequestLimits& lim) {
  const json list = v.is_string() ? json::array({v}) : v;
  if (!list.is_array()) throw bad_field("stop", "must be a string or an array of strings");
  if (static_cast<int64_t>(list.size()) > lim.max_stops) {
    throw bad_field("stop", "holds " + std::to_string(list.size()) + " strings, at most " + std::to_string(lim.max_stops));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string f = v.is_string() ? "stop" : "stop[" + std::to_string(i) + "]";
    std::string s = as_string(list[i], f);
    if (s.empty()) throw bad_field(f, "must not be empty");
    if (static_cast<int64_t>(s.size()) > lim.max_stop_bytes) {
      throw bad_field(f, "is " + std::to_string(s.size()) + " bytes, at most " + std::to_string(lim.max_stop_bytes));
    }
    r.stops.push_back(std::move(s));
  }
}

void read_stream_options(const json& v, ApiRequest& r) {
  if (!v.is_object()) throw bad_field("stream_options", "must be an object");
  for (const auto& [key, val] : v.items()) {
    if (key != "include_usage") throw bad_field("stream_options." + key, "is not a field this server understands");
    r.include_usage = as_bool(val, "stream_options.include_usage");
  }
}

using FieldReader = std::function<void(const json&, ApiRequest&, const RequestLimits&)>;

// The fields both endpoints take.
std::map<std::string, FieldReader> common_fields() {
  const auto zero = [](const json& v) { return v.is_number() && v.get<double>() == 0; };
  return {
      {"model", [](const json& v, ApiRequest& r, auto&) { r.model = as_string(v, "model"); }},
      {"max_tokens", [](const json& v, ApiRequest& r, auto& l) { r.max_tokens = as_int(v, "max_tokens", 1, l.max_tokens); }},
      {"temperature", [](const json& v, ApiRequest& r, auto&) { r.sampler.temperature = static_cast<float>(as_number(v, "temperature", 0, 2)); }},
      {"top_p", [](const json& v, ApiRequest& r, auto&) { r.sampler.top_p = static_cast<float>(as_number(v, "top_p", 0, 1, true)); }},
      {"top_k", [](const json& v, ApiRequest& r, auto& l) { r.sampler.top_k = as_int(v, "top_k", 0, l.vocab); }},
      {"min_p", [](const json& v, ApiRequest& r, auto&) { r.sampler.min_p = static_cast<float>(as_number(v, "min_p", 0, 1)); }},
      {"repeat_penalty", [](const json& v, ApiRequest& r, auto&) { r.sampler.repeat_penalty = static_cast<float>(as_number(v, "repeat_penalty", 0, 10, true)); }},
      {"repetition_penalty", [](const json& v, ApiRequest& r, auto&) { r.sampler.repeat_penalty = static_cast<float>(as_number(v, "repetition_penalty", 0, 10, true)); }},
      {"repeat_last_n", [](const json& v, ApiRequest& r, auto&) { r.sampler.repeat_last_n = as_int(v, "repeat_last_n", 0, 1 << 20); }},
      {"seed", [](const json& v, ApiRequest& r, auto&) {
         // Any 64-bit integer; a negative one is taken modulo 2^64.
         r.sampler.seed = v.is_number_unsigned() ? v.get<uint64_t>()
                                                 : static_cast<uint64_t>(as_int(v, "seed", INT64_MIN, INT64_MAX));
         r.has_seed = true;
       }},
      {"n", [](const json& v, ApiRequest& r, auto& l) { r.n = as_int(v, "n", 1, l.max_n); }},
      {"stop", read_stops},
      {"ignore_eos", [](const json& v, ApiRequest& r, auto&) { r.ignore_eos = as_bool(v, "ignore_eos"); }},
      {"stream", [](const json& v, ApiRequest& r, auto&) { r.stream = as_bool(v, "stream"); }},
      {"stream_options", [](const json& v, ApiRequest& r, auto&) { read_stream_options(v, r); }},
      {"user", [](const json& v, ApiRequest&, auto&) { as_string(v, "user"); }},
      {"frequency_penalty", [zero](const json& v, ApiRequest&, auto&) { neutral_only(v, "frequency_penalty", zero, "use repeat_penalty"); }},
      {"presence_penalty", [zero](const json& v, ApiRequest&, auto&) { neutral_only(v, "presence_penalty", zero, "use repeat_penalty"); }},
      {"logit_bias", [](const json& v, ApiRequest&, auto&) { neutral_only(v, "logit_bias", [](const json& x) { return x.is_object() && x.empty(); }, ""); }},
  };
}

std::map<std::string, FieldReader> fields_of(Api api) {
  auto f = common_fields();
  if (api == Api::Completions) {
    f["prompt"] = read_prompt;
    f["logprobs"] = [](const json& v, ApiRequest& r, auto& l) { r.logprobs = as_int(v, "logprobs", 0, l.max_logprobs); };
    f["echo"] = [](const json& v, ApiRequest&, auto&) { neutral_only(v, "echo", [](const json& x) { return x == false; }, ""); };
    f["suffix"] = [](const json& v, ApiRequest&, auto&) { neutral_only(v, "suffix", [](const json& x) { return x == ""; }, ""); };
    f["best_of"] = [](const json& v, ApiRequest&, auto&) { neutral_only(v, "best_of", [](const json& x) { return x == 1; }, "use n"); };
  } else {
    f["messages"] = read_messages;
    f["max_completion_tokens"] = [](const json& v, ApiRequest& r, auto& l) { r.max_tokens = as_int(v, "max_completion_tokens", 1, l.max_tokens); };
    f["logprobs"] = [](const json& v, ApiRequest& r, auto&) {
      if (as_bool(v, "logprobs")) r.logprobs = std::max<int64_t>(r.logprobs, 0);
    };
    f["top_logprobs"] = [](const json& v, ApiRequest&, auto& l) { as_int(v, "top_logprobs", 0, l.max_logprobs); };  // read below
    f["response_format"] = [](const json& v, ApiRequest&, auto&) {
      neutral_only(v, "response_format", [](const json& x) { return x.is_object() && x.size() == 1 && x.value("type", "") == "text"; }, "");
    };
  }
  return f;
}

json parse_object(std::string_view body) {
  // JSON text holds no NUL byte, but the parser stops at one: refuse it here.
  if (const size_t at = body.find('\0'); at != std::string_view::npos) {
    throw ApiError(400, "the request body is not valid JSON: a NUL byte at offset " + std::to_string(at));
  }
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {  // a syntax error, or a number beyond double
    throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw ApiError(400, "the request body must be a JSON object");
  return j;
}

}  // namespace

TokenizeRequest parse_tokenize(std::string_view body) {
  const json j = parse_object(body);
  TokenizeRequest r;
  for (const auto& [key, val] : j.items()) {
    if (key == "content") {
      r.content = as_string(val, "content");
    } else if (key == "add_special") {
      r.add_special = as_bool(val, "add_special");
    } else if (key == "parse_special") {
      r.parse_special = as_bool(val, "parse_special");
    } else if (key == "with_pieces") {
      r.with_pieces = as_bool(val, "with_pieces");
    } else {
      throw bad_field(key, "is not a field this server understands");
    }
  }
  if (!j.contains("content")) throw bad_field("content", "is required");
  return r;
}

std::vector<int32_t> parse_detokenize(std::string_view body, int64_t vocab) {
  const json j = parse_object(body);
  for (const auto& [key, val] : j.items()) {
    if (key != "tokens") throw bad_field(key, "is not a field this server understands");
  }
  if (!j.contains("tokens") || !j["tokens"].is_array()) throw bad_field("tokens", "is required, an array of token ids");
  const auto ids = token_ids(j["tokens"], "tokens", vocab);
  return {ids.begin(), ids.end()};
}

ApiRequest parse_request(Api api, std::string_view body, const RequestLimits& limits) {
  const json j = parse_object(body);
  ApiRequest r;
  r.api = api;
  r.max_tokens = limits.default_max_tokens;
  static const auto completions = fields_of(Api::Completions), chat = fields_of(Api::Chat);
  const auto& fields = api == Api::Completions ? completions : chat;
  for (const auto& [key, val] : j.items()) {
    const auto it = fields.find(key);
    if (it == fields.end()) throw bad_field(key, "is not a field this server understands");
    if (!val.is_null()) it->second(val, r, limits);  // null: the default, as OpenAI's clients send it
  }
  const char* required = api == Api::Completions ? "prompt" : "messages";
  if (!j.contains(required) || j[required].is_null()) throw bad_field(required, "is required");
  if (api == Api::Chat && j.contains("top_logprobs") && !j["top_logprobs"].is_null()) {
    if (r.logprobs < 0) throw bad_field("top_logprobs", "needs \"logprobs\": true");
    r.logprobs = j["top_logprobs"].get<int64_t>();
  }
  if (r.include_usage && !r.stream) throw bad_field("stream_options", "is only allowed with \"stream\": true");
  return r;
}

}  // namespace mmfree::serve

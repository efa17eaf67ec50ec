#include "serve/response.h"

#include <atomic>
#include <chrono>

namespace mmfree::serve {

using json = nlohmann::json;

namespace {
std::string next_id(Api api) {
  static std::atomic<uint64_t> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::string(api == Api::Chat ? "chatcmpl-" : "cmpl-") +
         std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now).count()) + "-" + std::to_string(counter++);
}

json bytes_of(std::string_view s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(c);
  return b;
}
}  // namespace

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Response::Response(Api api, std::string model, const Tokenizer& tok, int64_t n, int64_t prompt_tokens, bool logprobs)
    : api_(api),
      id_(next_id(api)),
      model_(std::move(model)),
      created_(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()),
      tok_(tok),
      prompt_tokens_(prompt_tokens),
      wants_logprobs_(logprobs),
      choices_(static_cast<size_t>(n)) {
  for (auto& c : choices_) {
    c.logprobs = api == Api::Chat ? json{{"content", json::array()}}
                                  : json{{"tokens", json::array()}, {"token_logprobs", json::array()},
                                         {"top_logprobs", json::array()}, {"text_offset", json::array()}};
  }
}

json Response::logprob_entry(Choice& c, const TokenLogprob& t) const {
  const auto piece = [&](int64_t id) { return std::string(id < tok_.vocab_size() ? tok_.token_bytes(static_cast<int32_t>(id)) : ""); };
  const std::string token = piece(t.id);
  if (api_ == Api::Chat) {
    json top = json::array();
    for (const auto& [id, lp] : t.top) top.push_back({{"token", piece(id)}, {"logprob", lp}, {"bytes", bytes_of(piece(id))}});
    json e = {{"token", token}, {"logprob", t.logprob}, {"bytes", bytes_of(token)}, {"top_logprobs", top}};
    c.logprobs["content"].push_back(e);
    return {{"content", json::array({e})}};
  }
  json top = json::object();
  for (const auto& [id, lp] : t.top) top[piece(id)] = lp;
  json e = {{"tokens", {token}}, {"token_logprobs", {t.logprob}}, {"top_logprobs", {top}}, {"text_offset", {c.text.size()}}};
  for (const char* k : {"tokens", "token_logprobs", "top_logprobs", "text_offset"}) c.logprobs[k].push_back(e[k][0]);
  return e;
}

json Response::add(const Event& e) {
  Choice& c = choices_.at(static_cast<size_t>(e.choice));
  std::string text = e.text;
  if (api_ == Api::Chat && !c.started) {  // the template ends in "Assistant:"; the reply starts after its space
    const size_t at = text.find_first_not_of(" \t\n");
    text = at == std::string::npos ? "" : text.substr(at);
    c.started = !text.empty();
  }
  json lp = nullptr;
  if (e.has_token) {
    ++c.tokens;
    if (wants_logprobs_) lp = logprob_entry(c, e.token);
  }
  c.text += text;
  if (!e.finish_reason.empty()) c.finish_reason = e.finish_reason;
  if (text.empty() && lp.is_null() && e.finish_reason.empty() && (api_ != Api::Chat || c.role_sent)) return nullptr;
  json choice = {{"index", e.choice}, {"logprobs", lp}};
  choice["finish_reason"] = e.finish_reason.empty() ? json(nullptr) : json(e.finish_reason);
  if (api_ == Api::Chat) {
    json delta = json::object();
    if (!c.role_sent) delta["role"] = "assistant";
    if (!text.empty()) delta["content"] = text;
    c.role_sent = true;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  json chunk = envelope(api_ == Api::Chat ? "chat.completion.chunk" : "text_completion");
  chunk["choices"] = json::array({choice});
  return chunk;
}

json Response::whole() const {
  json out = envelope(api_ == Api::Chat ? "chat.completion" : "text_completion");
  out["choices"] = json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    json choice = {{"index", i}, {"finish_reason", c.finish_reason}};
    choice["logprobs"] = wants_logprobs_ ? c.logprobs : json(nullptr);
    if (api_ == Api::Chat) {
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    } else {
      choice["text"] = c.text;
    }
    out["choices"].push_back(choice);
  }
  out["usage"] = usage();
  return out;
}

json Response::usage_chunk() const {
  json chunk = envelope(api_ == Api::Chat ? "chat.completion.chunk" : "text_completion");
  chunk["choices"] = json::array();
  chunk["usage"] = usage();
  return chunk;
}

json Response::envelope(const char* object) const {
  return {{"id", id_}, {"object", object}, {"created", created_}, {"model", model_}};
}

json Response::usage() const {
  int64_t generated = 0;
  for (const auto& c : choices_) generated += c.tokens;
  return {{"prompt_tokens", prompt_tokens_}, {"completion_tokens", generated}, {"total_tokens", prompt_tokens_ + generated}};
}

}  // namespace mmfree::serve

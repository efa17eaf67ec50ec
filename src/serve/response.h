#pragma once
// OpenAI response bodies built from the scheduler's events: the whole answer
// (text_completion, chat.completion) or one server-sent-event chunk at a time
// (text_completion chunks, chat.completion.chunk), with usage and logprobs.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "serve/job.h"
#include "serve/request.h"
#include "tokenizer/tokenizer.h"

namespace mmfree::serve {

class Response {
 public:
  Response(Api api, std::string model, const Tokenizer& tok, int64_t n, int64_t prompt_tokens, bool logprobs);
  // Folds one event in; returns the stream chunk it makes (null when it adds nothing to send).
  nlohmann::json add(const Event& e);
  // The whole answer, once every choice has finished.
  nlohmann::json whole() const;
  // The last chunk of a stream with stream_options.include_usage.
  nlohmann::json usage_chunk() const;

 private:
  struct Choice {
    std::string text;
    nlohmann::json logprobs;  // completions: {tokens, token_logprobs, top_logprobs, text_offset}; chat: {content: [...]}
    int64_t tokens = 0;
    bool started = false;     // chat: the reply's leading spaces are dropped until text starts
    bool role_sent = false;
    std::string finish_reason;
  };
  nlohmann::json logprob_entry(Choice& c, const TokenLogprob& t) const;
  nlohmann::json envelope(const char* object) const;
  nlohmann::json usage() const;

  Api api_;
  std::string id_, model_;
  int64_t created_;
  const Tokenizer& tok_;
  int64_t prompt_tokens_;
  bool wants_logprobs_;
  std::vector<Choice> choices_;
};

// JSON as text for the wire: invalid UTF-8 (a token's partial character) becomes U+FFFD.
std::string dump(const nlohmann::json& j);

}  // namespace mmfree::serve

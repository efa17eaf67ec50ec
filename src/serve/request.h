#pragma once
// OpenAI request bodies (/v1/completions, /v1/chat/completions) read and checked: every field is
// known, of its type and in its range, or the request is answered 400 naming the field. Fields
// OpenAI defines that mmfree does not implement are accepted only at their neutral value.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "generate/sampler.h"

namespace mmfree::serve {

enum class Api { Completions, Chat };

struct ChatMessage {
  std::string role;  // system, user or assistant
  std::string content;
};

// What the server allows; a request beyond them is answered 400 naming the field.
struct RequestLimits {
  int64_t vocab = 0;                 // token ids in a prompt are in [0, vocab)
  int64_t max_tokens = 4096;         // per choice
  int64_t default_max_tokens = 256;  // when a request names none
  int64_t max_n = 8;                 // choices per request
  int64_t max_stops = 16;
  int64_t max_stop_bytes = 1024;
  int64_t max_logprobs = 20;         // alternatives per token
  int64_t max_messages = 1024;
};

struct ApiRequest {
  Api api = Api::Completions;
  std::string model;                 // as sent; any name is accepted (one model is served)
  std::string prompt_text;           // completions: the text prompt ...
  std::vector<int64_t> prompt_ids;   // ... or the prompt as token ids
  bool prompt_is_ids = false;
  std::vector<ChatMessage> messages; // chat
  bool stream = false, include_usage = false;
  int64_t max_tokens = 0;
  int64_t n = 1;
  SamplerOptions sampler;            // mmfree generate's defaults where the request names none
  bool has_seed = false;
  std::vector<std::string> stops;
  bool ignore_eos = false;
  int64_t logprobs = -1;             // -1: none; else how many alternatives per token (0: the token's own only)
};

// Throws ApiError (400) naming the field at fault.
ApiRequest parse_request(Api api, std::string_view body, const RequestLimits& limits);

// POST /tokenize and /detokenize, as llama-server defines them.
struct TokenizeRequest {
  std::string content;
  bool add_special = false;    // add BOS (and EOS) as the tokenizer does
  bool parse_special = true;   // "<s>" in the text is the special token
  bool with_pieces = false;    // answer {"id", "piece"} pairs
};
TokenizeRequest parse_tokenize(std::string_view body);
std::vector<int32_t> parse_detokenize(std::string_view body, int64_t vocab);

}  // namespace mmfree::serve

#pragma once
// The decode loop: prefill a prompt through a sequence's state, then sample token by token,
// streaming text (UTF-8 safe, stop strings held back) as it comes. The CLI and the server call it.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "generate/sampler.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace mmfree {

struct GenerateRequest {
  std::vector<int64_t> prompt;  // at least one token
  int64_t max_tokens = 128;
  SamplerOptions sampler;
  std::vector<std::string> stops;  // needs a tokenizer
  bool ignore_eos = false;
};

struct GenerateResult {
  std::vector<int64_t> ids;       // generated, the end-of-sequence token included when it ended them
  std::string stop_reason;        // "length", "eos" or "stop"
  double prefill_s = 0, decode_s = 0;
};

// What a generation reports as it goes: text pieces when there is a tokenizer, else token ids.
struct GenerateSink {
  std::function<void(std::string_view)> text;
  std::function<void(int64_t)> token;
};

// tok may be null (no text: ids only, and no stop strings).
GenerateResult generate(const Model& model, const Tokenizer* tok, const GenerateRequest& req, const GenerateSink& sink);

}  // namespace mmfree

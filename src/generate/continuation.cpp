#include "generate/continuation.h"

#include <algorithm>

#include "util/error.h"

namespace mmfree {

namespace {
// No more tokens than the prompt and the generation can enter the penalty's window: a larger
// repeat_last_n is the same window, without its buffer.
SamplerOptions window_bounded(const GenerateRequest& req) {
  SamplerOptions so = req.sampler;
  so.repeat_last_n = std::min(so.repeat_last_n, static_cast<int64_t>(req.prompt.size()) + std::max<int64_t>(req.max_tokens, 0));
  return so;
}
}  // namespace

Continuation::Continuation(const GenerateRequest& req, const Tokenizer* tok, int64_t vocab, int64_t eos_id)
    : tok_(tok),
      max_tokens_(req.max_tokens),
      eos_id_(eos_id),
      ignore_eos_(req.ignore_eos),
      sampler_(window_bounded(req), vocab),
      stops_(req.stops) {
  check(!req.prompt.empty(), "internal: generation needs a prompt of at least one token");
  check(tok || req.stops.empty(), "stop strings need a tokenizer");
  for (int64_t id : req.prompt) sampler_.accept(id);
  ids_.reserve(static_cast<size_t>(std::clamp<int64_t>(req.max_tokens, 0, 4096)));
  if (tok) {
    // Text continues the prompt's, unless the prompt holds no text (BOS alone).
    const bool at_text_start = std::all_of(req.prompt.begin(), req.prompt.end(), [&](int64_t id) {
      return id >= tok->vocab_size() || tok->token_bytes(static_cast<int32_t>(id)).empty();
    });
    stream_ = std::make_unique<TextStream>(*tok, at_text_start);
  }
  if (max_tokens_ <= 0) end("length", {});
}

bool Continuation::step(const float* logits, const GenerateSink& sink) {
  check(!done_, "internal: a finished generation was stepped");
  return advance(sampler_.sample(logits), sink);
}

bool Continuation::step_of(std::span<const TokenChoice> top, const GenerateSink& sink) {
  check(!done_, "internal: a finished generation was stepped");
  return advance(sampler_.sample_of(top), sink);
}

bool Continuation::advance(int64_t next, const GenerateSink& sink) {
  ids_.push_back(next);
  if (next == eos_id_ && !ignore_eos_) {
    end("eos", sink);
  } else if (stream_) {
    if (next < tok_->vocab_size()) {
      const std::string_view s = stops_.push(stream_->push(static_cast<int32_t>(next)));
      if (!s.empty() && sink.text) sink.text(s);
    }
    if (stops_.stopped()) end("stop", sink);
  } else if (sink.token) {
    sink.token(next);
  }
  if (!done_ && static_cast<int64_t>(ids_.size()) >= max_tokens_) end("length", sink);
  return done_;
}

void Continuation::end(const std::string& reason, const GenerateSink& sink) {
  done_ = true;
  stop_reason_ = reason;
  if (!stream_ || stops_.stopped()) return;
  const auto emit = [&](std::string_view s) {
    if (!s.empty() && sink.text) sink.text(s);
  };
  emit(stops_.push(stream_->finish()));  // each view is valid until the next call: emit it first
  emit(stops_.finish());
}

}  // namespace mmfree

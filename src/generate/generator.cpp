#include "generate/generator.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "generate/stop_strings.h"
#include "tokenizer/text_stream.h"
#include "util/error.h"

namespace mmfree {

GenerateResult generate(const Model& model, const Tokenizer* tok, const GenerateRequest& req, const GenerateSink& sink) {
  using clock = std::chrono::steady_clock;
  const ModelConfig& c = model.config();
  const int64_t V = c.vocab_size, P = static_cast<int64_t>(req.prompt.size());
  check(P > 0, "internal: generation needs a prompt of at least one token");
  check(tok || req.stops.empty(), "stop strings need a tokenizer");
  StatePool st(model, 1);
  Workspace ws(model, std::min(P, model.backend().prefill_rows()));  // longer prompts run in chunks
  std::vector<float> logits(static_cast<size_t>(V));
  // No more tokens than the prompt and the generation can enter the penalty's window: a larger
  // repeat_last_n is the same window, without its buffer.
  SamplerOptions so = req.sampler;
  so.repeat_last_n = std::min(so.repeat_last_n, P + std::max<int64_t>(req.max_tokens, 0));
  Sampler sampler(so, V);
  for (int64_t id : req.prompt) sampler.accept(id);
  GenerateResult r;
  r.ids.reserve(static_cast<size_t>(std::clamp<int64_t>(req.max_tokens, 0, 4096)));
  // Text continues the prompt's, unless the prompt holds no text (BOS alone).
  const bool at_text_start = !tok || std::all_of(req.prompt.begin(), req.prompt.end(), [&](int64_t id) {
    return id >= tok->vocab_size() || tok->token_bytes(static_cast<int32_t>(id)).empty();
  });
  std::unique_ptr<TextStream> stream = tok ? std::make_unique<TextStream>(*tok, at_text_start) : nullptr;
  StopStrings stops(req.stops);
  const auto emit = [&](std::string_view s) {
    if (!s.empty() && sink.text) sink.text(s);
  };

  const auto t0 = clock::now();
  model.forward(req.prompt.data(), 1, P, st, ws, logits.data(), false);
  const auto t1 = clock::now();
  r.stop_reason = "length";
  for (int64_t i = 0; i < req.max_tokens; ++i) {
    int64_t next = sampler.sample(logits.data());
    r.ids.push_back(next);
    if (next == c.eos_token_id && !req.ignore_eos) {
      r.stop_reason = "eos";
      break;
    }
    if (stream) {
      if (next < tok->vocab_size()) emit(stops.push(stream->push(static_cast<int32_t>(next))));
      if (stops.stopped()) {
        r.stop_reason = "stop";
        break;
      }
    } else if (sink.token) {
      sink.token(next);
    }
    if (i + 1 < req.max_tokens) model.forward(&next, 1, 1, st, ws, logits.data(), false);
  }
  const auto t2 = clock::now();
  if (stream && !stops.stopped()) {
    emit(stops.push(stream->finish()));
    emit(stops.finish());
  }
  r.prefill_s = std::chrono::duration<double>(t1 - t0).count();
  r.decode_s = std::chrono::duration<double>(t2 - t1).count();
  return r;
}

}  // namespace mmfree

#include "generate/generator.h"

#include <algorithm>
#include <chrono>

#include "generate/continuation.h"

namespace mmfree {

GenerateResult generate(const Model& model, const Tokenizer* tok, const GenerateRequest& req, const GenerateSink& sink) {
  using clock = std::chrono::steady_clock;
  const ModelConfig& c = model.config();
  const int64_t V = c.vocab_size, P = static_cast<int64_t>(req.prompt.size());
  Continuation seq(req, tok, V, c.eos_token_id);  // checks the prompt and the stops
  StatePool st(model, 1);
  Workspace ws(model, std::min(P, model.backend().prefill_rows()));  // longer prompts run in chunks
  std::vector<float> logits(static_cast<size_t>(V));

  const auto t0 = clock::now();
  model.forward(req.prompt.data(), 1, P, st, ws, logits.data(), false);
  const auto t1 = clock::now();
  while (!seq.done() && !seq.step(logits.data(), sink)) {
    const int64_t next = seq.last();
    model.forward(&next, 1, 1, st, ws, logits.data(), false);
  }
  const auto t2 = clock::now();
  GenerateResult r;
  r.ids = seq.ids();
  r.stop_reason = seq.stop_reason();
  r.prefill_s = std::chrono::duration<double>(t1 - t0).count();
  r.decode_s = std::chrono::duration<double>(t2 - t1).count();
  return r;
}

}  // namespace mmfree

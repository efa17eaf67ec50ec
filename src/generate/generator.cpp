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
  // On a GPU the sampler's choices are selected where the logits are (40 tokens cross, not the
  // vocabulary); on the host the sampler reads the logits in place.
  const bool select = !model.backend().host_memory();
  const int64_t k = seq.choices();
  std::vector<float> logits(select ? 0 : static_cast<size_t>(V));
  std::vector<TokenChoice> top(select ? static_cast<size_t>(k) : 0);
  const int32_t slot = 0;
  const auto run = [&](const int64_t* tokens, int64_t T) {
    if (!select) return model.forward(tokens, 1, T, st, ws, logits.data(), false);
    const ChoiceRow how = seq.choice_row();
    model.forward_select(tokens, 1, T, {&slot, 1}, st, ws, {&how, 1}, k, top.data());
  };
  const auto step = [&] { return select ? seq.step_of(top, sink) : seq.step(logits.data(), sink); };

  const auto t0 = clock::now();
  run(req.prompt.data(), P);
  const auto t1 = clock::now();
  while (!seq.done() && !step()) {
    const int64_t next = seq.last();
    run(&next, 1);
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

#pragma once
// Picks the next token from a logit vector. The filters run in this order, as in Hugging Face
// transformers: repetition penalty over the last tokens, temperature, top-k, top-p, min-p; then
// one draw from a seeded generator, so a seed fixes the output. Temperature 0 is greedy (argmax of
// the penalised logits, lowest id on ties). Every buffer is sized once: no allocation per token.
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "backend/select_top.h"

namespace mmfree {

struct SamplerOptions {
  float temperature = 0.8f;
  int64_t top_k = 40;          // keep the k most likely tokens; 0: all
  float top_p = 0.95f;         // keep the smallest set whose probability reaches p; 1: all
  float min_p = 0.05f;         // drop tokens less likely than min_p times the most likely; 0: none
  float repeat_penalty = 1.0f; // divide a recent token's positive logit by it, multiply a negative one; 1: off
  int64_t repeat_last_n = 64;  // how many recent tokens the penalty looks at (prompt included)
  uint64_t seed = 0;
};

struct Candidate {
  int32_t id;
  float logit;  // after penalty and temperature
  float p;      // probability among the candidates kept
};

class Sampler {
 public:
  Sampler(const SamplerOptions& o, int64_t vocab);

  // Records a token (of the prompt, or one generated) for the repetition penalty.
  void accept(int64_t token);
  // The distribution the next draw uses: the candidates kept, most likely first, p summing to 1.
  // Valid until the next call.
  std::span<const Candidate> distribution(const float* logits);
  // Draws from distribution(logits) and accepts the token drawn.
  int64_t sample(const float* logits);

  // The same from the choices() most likely tokens alone, as Backend::select_top gives them for
  // choice_row() (a GPU selects them where the logits are: 40 tokens cross instead of the vocabulary).
  int64_t choices() const;  // 1 when greedy, else top_k, or the vocabulary when top_k is 0
  ChoiceRow choice_row();   // valid until the next call
  std::span<const Candidate> distribution_of(std::span<const TokenChoice> top);
  int64_t sample_of(std::span<const TokenChoice> top);

 private:
  SamplerOptions opt_;
  std::mt19937_64 rng_;
  int64_t draw(std::span<const Candidate> dist);
  std::vector<Candidate> cand_;       // vocab entries
  std::vector<TokenChoice> top_, scratch_;  // select_top_host's output and scratch: vocab entries
  std::vector<int64_t> recent_;       // ring buffer of the last repeat_last_n tokens
  size_t recent_count_ = 0, recent_next_ = 0;
  std::vector<uint32_t> penalised_;   // by id: the round in which it was last listed
  std::vector<int32_t> distinct_;     // the recent tokens, each once
  uint32_t round_ = 0;
};

}  // namespace mmfree

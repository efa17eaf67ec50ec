#pragma once
// Picks the next token from a logit vector. Temperature 0 is greedy (argmax, lowest id on ties);
// otherwise softmax(logits / temperature) sampled with a seeded generator, so a seed fixes the output.
#include <cstdint>
#include <random>
#include <vector>

namespace mmfree {

struct SamplerOptions {
  float temperature = 0.8f;
  uint64_t seed = 0;
};

class Sampler {
 public:
  Sampler(const SamplerOptions& o, int64_t vocab);
  int64_t sample(const float* logits);

 private:
  SamplerOptions opt_;
  std::mt19937_64 rng_;
  std::vector<double> probs_;  // sized once: no allocation per token
};

}  // namespace mmfree

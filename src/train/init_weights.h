#pragma once
// A fresh model's parameters, initialised as the original implementation does.
#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/parameters.h"

namespace mmfree {

// Fills every tensor of an arena made for expected_tensors(c), in that order:
//  - embeddings, lm_head, mlp.gate_proj: normal(0, 0.02) (the config's initializer_range);
//  - mlp.down_proj: normal(0, 0.02) / sqrt(2 L) (GPT-2's scaled residual init, as the original);
//  - attn.{i,f,g,o}_proj: Xavier-uniform with gain 2^-2.5 (HGRNBitAttention's own init);
//  - every norm weight 1, lower_bounds 0.
// Deterministic for a seed: its own generator (mt19937_64) and Box-Muller, no library distributions.
void init_parameters(const ModelConfig& c, uint64_t seed, ParameterArena& params);

}  // namespace mmfree

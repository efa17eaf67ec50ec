#pragma once
// mmfree init: models of the paper's sizes with random weights, for benchmarks and tests, written
// through the same writer as convert. Every tensor is generated row by row from the seed, so the
// same seed gives the same file and memory stays small whatever the size.
#include <cstdint>
#include <string>
#include <vector>

#include "format/model_gguf_writer.h"
#include "model/config.h"

namespace mmfree {

// "370M", "1.3B", "2.7B": (d, L) = (1024, 24), (2048, 24), (2560, 32), vocab 32000, I from the
// config rule. Throws naming the presets for any other name.
ModelConfig preset_config(const std::string& preset);
const std::vector<std::string>& preset_names();

// Latent weights as from normal(0, 0.02), ternarised: each weight is 0 with probability 0.31 and
// +1 or -1 otherwise, with s_w = 1 / (0.02 * sqrt(2 / pi)); embeddings normal(0, 0.02); norm
// weights 1; lower bounds 0.
void write_random_model(const std::string& path, const ModelConfig& c, uint64_t seed, const ModelFileOptions& o);

}  // namespace mmfree

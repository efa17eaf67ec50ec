#include "train/init_weights.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include "model/tensor_names.h"
#include "util/progress.h"

namespace mmfree {

namespace {

constexpr double kInitStd = 0.02;

// Uniform in (0, 1) from the top 53 bits: never 0, so log() below is finite.
double uniform01(std::mt19937_64& rng) { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; }

void fill_normal(std::vector<float>& v, double stddev, std::mt19937_64& rng) {
  for (size_t k = 0; k < v.size(); k += 2) {
    const double r = std::sqrt(-2.0 * std::log(uniform01(rng))), theta = 2.0 * std::numbers::pi * uniform01(rng);
    v[k] = static_cast<float>(stddev * r * std::cos(theta));
    if (k + 1 < v.size()) v[k + 1] = static_cast<float>(stddev * r * std::sin(theta));
  }
}

void fill_uniform(std::vector<float>& v, double bound, std::mt19937_64& rng) {
  for (auto& x : v) x = static_cast<float>(bound * (2.0 * uniform01(rng) - 1.0));
}

}  // namespace

std::vector<Parameter> init_parameters(const ModelConfig& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Parameter> params;
  const auto specs = expected_tensors(c);
  const auto numel = [](const TensorSpec& spec) {
    int64_t count = 1;
    for (auto dim : spec.shape) count *= dim;
    return count;
  };
  double total = 0;
  for (const TensorSpec& spec : specs) total += static_cast<double>(numel(spec));
  Progress progress("initialising the weights", total, "weights");
  for (const TensorSpec& spec : specs) {
    const int64_t count = numel(spec);
    Parameter p{spec.name, spec.shape, std::vector<float>(static_cast<size_t>(count)),
                std::vector<float>(static_cast<size_t>(count), 0.0f)};
    const std::string& n = spec.name;
    if (n == "model.lower_bounds") {
      // zeros: every layer's bound starts equal
    } else if (n.ends_with("norm.weight")) {
      std::fill(p.value.begin(), p.value.end(), 1.0f);
    } else if (n.ends_with("_proj.weight") && n.find(".attn.") != std::string::npos) {
      const double fan_sum = static_cast<double>(spec.shape[0] + spec.shape[1]);
      fill_uniform(p.value, std::pow(2.0, -2.5) * std::sqrt(6.0 / fan_sum), rng);
    } else if (n.ends_with("down_proj.weight")) {
      fill_normal(p.value, kInitStd / std::sqrt(2.0 * static_cast<double>(c.num_layers)), rng);
    } else {
      fill_normal(p.value, kInitStd, rng);
    }
    params.push_back(std::move(p));
    progress.add(static_cast<double>(count));
  }
  return params;
}

}  // namespace mmfree

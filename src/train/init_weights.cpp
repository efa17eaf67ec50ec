#include "train/init_weights.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include "model/tensor_names.h"
#include "util/error.h"
#include "util/progress.h"

namespace mmfree {

namespace {

constexpr double kInitStd = 0.02;

// Uniform in (0, 1) from the top 53 bits: never 0, so log() below is finite.
double uniform01(std::mt19937_64& rng) { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; }

void fill_normal(std::span<float> v, double stddev, std::mt19937_64& rng) {
  for (size_t k = 0; k < v.size(); k += 2) {
    const double r = std::sqrt(-2.0 * std::log(uniform01(rng))), theta = 2.0 * std::numbers::pi * uniform01(rng);
    v[k] = static_cast<float>(stddev * r * std::cos(theta));
    if (k + 1 < v.size()) v[k + 1] = static_cast<float>(stddev * r * std::sin(theta));
  }
}

void fill_uniform(std::span<float> v, double bound, std::mt19937_64& rng) {
  for (auto& x : v) x = static_cast<float>(bound * (2.0 * uniform01(rng) - 1.0));
}

}  // namespace

void init_parameters(const ModelConfig& c, uint64_t seed, ParameterArena& params) {
  std::mt19937_64 rng(seed);
  const auto specs = expected_tensors(c);
  check(specs.size() == params.params().size(), "internal: an arena of another model");
  Progress progress("initialising the weights", static_cast<double>(params.size()), "weights");
  for (size_t k = 0; k < specs.size(); ++k) {
    const TensorSpec& spec = specs[k];
    Parameter& p = params.params()[k];
    check(p.name == spec.name, "internal: an arena of another model");
    const auto count = static_cast<int64_t>(p.value.size());
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
    progress.add(static_cast<double>(count));
  }
  params.upload();
}

}  // namespace mmfree

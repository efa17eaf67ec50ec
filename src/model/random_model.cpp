#include "model/random_model.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "util/error.h"

namespace mmfree {

namespace {

constexpr double kInitStd = 0.02;

// SplitMix64: small, fast, and the same on every platform (std:: distributions are not).
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

uint64_t hash_name(const std::string& s) {  // FNV-1a
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// One generator per (seed, tensor, row): a row's values do not depend on how rows are chunked.
SplitMix64 row_rng(uint64_t seed, const std::string& tensor, int64_t row) {
  SplitMix64 g{seed ^ hash_name(tensor)};
  g.state ^= SplitMix64{static_cast<uint64_t>(row) + g.next()}.next();
  return g;
}

// A random byte -> a ternary weight, by table (a branch on random data mispredicts half the time):
// 0 with probability 79/256 ~ 0.310, the chance that |z| < 0.5 * sqrt(2 / pi) for z ~ normal(0, 1),
// else +1 or -1 by the byte's lowest bit.
constexpr auto kTernaryOfByte = [] {
  std::array<int8_t, 256> t{};
  for (int b = 0; b < 256; ++b) t[b] = static_cast<int8_t>(b < 79 ? 0 : (b & 1) ? 1 : -1);
  return t;
}();

class RandomTensorProvider final : public ModelTensorProvider {
 public:
  explicit RandomTensorProvider(uint64_t seed) : seed_(seed) {}

  void float_rows(const TensorSpec& t, int64_t row0, int64_t n, float* out) override {
    const int64_t cols = t.shape.back();
    if (t.kind != TensorKind::Embeddings) {
      std::fill(out, out + n * cols, t.kind == TensorKind::Norm ? 1.0f : 0.0f);
      return;
    }
    for (int64_t r = 0; r < n; ++r) {
      SplitMix64 g = row_rng(seed_, t.name, row0 + r);
      float* o = out + r * cols;
      for (int64_t c = 0; c < cols; c += 2) {  // Box-Muller: two normals from two uniforms
        const uint64_t bits = g.next();
        const double u1 = (static_cast<double>(bits >> 40) + 1.0) / 16777217.0;  // (0, 1]
        const double u2 = static_cast<double>(bits & 0xffffff) / 16777216.0;
        const double radius = kInitStd * std::sqrt(-2.0 * std::log(u1)), angle = 2.0 * M_PI * u2;
        o[c] = static_cast<float>(radius * std::cos(angle));
        if (c + 1 < cols) o[c + 1] = static_cast<float>(radius * std::sin(angle));
      }
    }
  }

  Ternary ternary(const TensorSpec& t) override {
    Ternary r;
    r.scale = static_cast<float>(1.0 / (kInitStd * std::sqrt(2.0 / M_PI)));
    const int64_t cols = t.shape.back();
    r.rows = [this, name = t.name, cols](int64_t row0, int64_t n, int8_t* out) {
      for (int64_t row = 0; row < n; ++row) {
        SplitMix64 g = row_rng(seed_, name, row0 + row);
        int8_t* o = out + row * cols;
        for (int64_t c = 0; c < cols; c += 8) {
          uint64_t bits = g.next();
          for (int64_t k = c; k < std::min(c + 8, cols); ++k, bits >>= 8) o[k] = kTernaryOfByte[bits & 0xff];
        }
      }
    };
    return r;
  }

 private:
  uint64_t seed_;
};

struct Preset {
  const char* name;
  int64_t d, L;
};
constexpr Preset kPresets[] = {{"370M", 1024, 24}, {"1.3B", 2048, 24}, {"2.7B", 2560, 32}};

}  // namespace

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& p : kPresets) v.emplace_back(p.name);
    return v;
  }();
  return names;
}

ModelConfig preset_config(const std::string& preset) {
  for (const auto& p : kPresets)
    if (preset == p.name) {
      ModelConfig c;
      c.vocab_size = 32000;
      c.hidden_size = p.d;
      c.num_layers = p.L;
      c.num_heads = 1;
      c.intermediate_size = ModelConfig::default_intermediate(p.d);
      return c;
    }
  throw Error("--preset: unknown preset '" + preset + "' (known: 370M, 1.3B, 2.7B)");
}

void write_random_model(const std::string& path, const ModelConfig& c, uint64_t seed, const ModelFileOptions& o) {
  RandomTensorProvider src(seed);
  write_model_gguf(path, c, src, o);
}

}  // namespace mmfree

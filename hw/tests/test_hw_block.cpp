// Whole blocks and whole decode steps of real models on the simulated core, against mmfree's own
// forward (reference kernels) and the original implementation's greedy tokens.
//
// What "the same" means here (SPEC.md, "Comparing with the original"): the int8 quantizer is
// discontinuous, so a last-bit difference moves a code by one. The core works in fixed point (v24),
// which moves a few codes per product; the tests measure each block's error relative to what
// the block adds to the residual stream and hold its median under 1e-2, SPEC's line between a
// correct implementation's rare outliers and a real mistake (a wrong eps gives ~1e-2).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core_sim.h"
#include "format/safetensors.h"
#include "hw_model.h"
#include "model/model.h"
#include "model/ops.h"

namespace mmfree::hw {
namespace {

std::string tiny_a() { return MMFREE_SHARED_DIR "/fixtures/tiny_a"; }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int64_t argmax(const std::vector<float>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); }

// Each block of model on the core against mmfree's own block, for tokens fed one at a time: every
// block gets the reference's input, the core keeps its own recurrent state. Returns the error
// relative to what each block adds to x, per block and token.
std::vector<double> block_errors(const std::string& model, const std::vector<int64_t>& ids) {
  const auto w = open_weight_source(model);
  const ModelConfig& c = w->config();
  CoreSim core;
  HwModel hw(w, core);
  std::vector<std::unique_ptr<RefBlock>> ref;
  for (int64_t l = 0; l < c.num_layers; ++l) ref.push_back(std::make_unique<RefBlock>(*w, l));
  std::vector<std::vector<float>> h(c.num_layers, std::vector<float>(c.hidden_size, 0.0f));
  const EmbeddingTable emb = w->embeddings();
  std::vector<double> errs;
  int64_t cycles = 0;
  for (int64_t id : ids) {
    std::vector<float> x(c.hidden_size);
    emb.row(id, x.data());
    for (int64_t l = 0; l < c.num_layers; ++l) {
      for (float& v : x) v = static_cast<float>(from_v24(to_v24(v)));  // the input the core holds
      std::vector<float> xh = x, x0 = x;
      cycles += hw.block(l, xh);
      ref[l]->forward(x, h[l]);
      double num = 0, den = 0;
      for (int64_t i = 0; i < c.hidden_size; ++i) {
        num += (double(xh[i]) - x[i]) * (double(xh[i]) - x[i]);
        den += (double(x[i]) - x0[i]) * (double(x[i]) - x0[i]);
      }
      errs.push_back(std::sqrt(num / den));
    }
  }
  std::printf("[ hw ] %s blocks (d %lld, I %lld), %zu tokens x %lld layers: error / block update median %.2e, max %.2e; "
              "%lld cycles per block\n",
              model.c_str(), (long long)c.hidden_size, (long long)c.intermediate_size, ids.size(),
              (long long)c.num_layers, median(errs), *std::max_element(errs.begin(), errs.end()),
              (long long)(cycles / (static_cast<int64_t>(ids.size()) * c.num_layers)));
  return errs;
}

TEST(HwBlock, TinyABlocksMatchMmfreeBlocks) {
  SafetensorsFile golden(tiny_a() + "/golden.safetensors");
  const auto ids = golden.get("input_ids").to_i64();
  EXPECT_LT(median(block_errors(tiny_a(), std::vector<int64_t>(ids.begin(), ids.begin() + 24))), 1e-2);
}

TEST(HwBlock, DefaultModelBlocksMatchMmfreeBlocks) {
  // "It is a truth universally acknowledged"
  const std::vector<int64_t> ids = {1, 610, 350, 261, 1679, 535, 4039, 1178, 723, 3670, 927};
  EXPECT_LT(median(block_errors(MMFREE_SOURCE_DIR "/models/default.gguf", ids)), 1e-2);
}

// Greedy decoding: the prompt, then n tokens. With `forced`, step i feeds forced[i] instead of
// its own choice (teacher forcing), so two decoders see the same history at every step.
struct Decode {
  std::vector<int64_t> ids;
  std::vector<std::vector<float>> logits;  // the logits each chosen token came from
  int64_t cycles = 0;
};

Decode decode_on_core(HwModel& hw, const std::vector<int64_t>& prompt, int64_t n,
                      const std::vector<int64_t>* forced = nullptr) {
  Decode d;
  std::vector<float> logits;
  const int64_t c0 = hw.cycles();
  for (int64_t id : prompt) logits = hw.step(id);
  for (int64_t i = 0; i < n; ++i) {
    d.logits.push_back(logits);
    d.ids.push_back(argmax(logits));
    if (i + 1 < n) logits = hw.step(forced ? (*forced)[i] : d.ids.back());
  }
  d.cycles = hw.cycles() - c0;
  return d;
}

// mmfree's own decoding: the ref backend, or (reference false) its fast kernels.
Decode decode_reference(const std::string& model, const std::vector<int64_t>& prompt, int64_t n, bool reference = true) {
  const auto m = Model::load(model, DeviceOptions{.device = reference ? "ref" : "cpu", .threads = 1, .isa = {}});
  StatePool st(*m, 1);
  Workspace ws(*m, static_cast<int64_t>(prompt.size()));
  std::vector<float> logits(static_cast<size_t>(m->config().vocab_size));
  m->forward(prompt.data(), 1, static_cast<int64_t>(prompt.size()), st, ws, logits.data(), false);
  Decode d;
  for (int64_t i = 0; i < n; ++i) {
    d.logits.push_back(logits);
    d.ids.push_back(argmax(logits));
    if (i + 1 < n) m->forward(&d.ids.back(), 1, 1, st, ws, logits.data(), false);
  }
  return d;
}

// Per step: the core's logits against the reference's (relative L2), and the reference's top-2 margin.
struct StepErrors {
  std::vector<double> rel, margin, max_abs;
};

StepErrors step_errors(const Decode& got, const std::vector<std::vector<float>>& want) {
  StepErrors e;
  for (size_t i = 0; i < want.size(); ++i) {
    const auto& g = got.logits[i];
    const auto& w = want[i];
    double num = 0, den = 0, mx = 0;
    for (size_t v = 0; v < w.size(); ++v) {
      const double diff = double(g[v]) - w[v];
      num += diff * diff;
      den += double(w[v]) * w[v];
      mx = std::max(mx, std::fabs(diff));
    }
    std::vector<float> top = w;
    std::partial_sort(top.begin(), top.begin() + 2, top.end(), std::greater<float>());
    e.rel.push_back(std::sqrt(num / den));
    e.margin.push_back(top[0] - top[1]);
    e.max_abs.push_back(mx);
  }
  return e;
}

void report(const std::string& what, const Decode& got, const std::vector<int64_t>& want, const StepErrors& e,
            int64_t steps, int64_t weight_bytes) {
  int64_t same = 0;
  while (same < static_cast<int64_t>(want.size()) && got.ids[same] == want[same]) ++same;
  const auto small = std::count_if(e.rel.begin(), e.rel.end(), [](double r) { return r < 1e-4; });
  std::printf("[ hw ] %s: %lld of %lld greedy tokens equal before the first difference; logits per step: %lld under "
              "1e-4, median %.1e, max %.1e; closest top-2 margin %.1e; %lld cycles per token, %lld weight bytes per "
              "token\n",
              what.c_str(), (long long)same, (long long)want.size(), (long long)small, median(e.rel),
              *std::max_element(e.rel.begin(), e.rel.end()), *std::min_element(e.margin.begin(), e.margin.end()),
              (long long)(got.cycles / steps), (long long)weight_bytes);
}

TEST(HwModel, TinyAGreedyTokensMatchOriginal) {
  SafetensorsFile golden(tiny_a() + "/golden.safetensors");
  const auto prompt = golden.get("prompt_ids").to_i64();
  const auto want = golden.get("greedy_ids").to_i64();
  const auto n = static_cast<int64_t>(want.size());
  CoreSim core;
  HwModel hw(open_weight_source(tiny_a()), core);
  const Decode got = decode_on_core(hw, prompt, n);
  // The logits of each step against the original's: like two float implementations, equal to
  // ~1e-6 except for a stretch where an int8 code moved and the recurrence carried it.
  const auto flat = golden.get("greedy_step_logits").to_f32();
  const auto V = static_cast<size_t>(hw.config().vocab_size);
  std::vector<std::vector<float>> want_logits;
  for (int64_t i = 0; i < n; ++i) want_logits.emplace_back(flat.begin() + i * V, flat.begin() + (i + 1) * V);
  report("tiny_a vs PyTorch original", got, want, step_errors(got, want_logits),
         static_cast<int64_t>(prompt.size()) + n - 1, hw.weight_bytes_per_token());
  EXPECT_EQ(got.ids, want);
  EXPECT_EQ(decode_reference(tiny_a(), prompt, n).ids, want);  // the reference backend agrees with the original
}

// How far mmfree's own logits (ref kernels, after the prompt) move when each embedding value is
// perturbed by relative noise of 1e-7 (about one float ulp), the largest over two draws: the spread
// of implementations that differ from the reference only in float rounding. A random model is
// chaotic: one int8 code that such noise moves in layer 0 changes everything after it.
double reference_sensitivity(const std::string& model, const std::vector<int64_t>& prompt) {
  const auto w = open_weight_source(model);
  const ModelConfig& c = w->config();
  const int64_t d = c.hidden_size, L = c.num_layers;
  const EmbeddingTable emb = w->embeddings();
  RefBackend be;
  be.reserve(1, d);
  UploadedWeights uploaded(be, w);
  const BitLinear head = uploaded.bitlinear("lm_head");
  const auto final_norm = w->floats("model.norm.weight");
  const auto logits = [&](double noise, uint32_t seed) {
    std::vector<std::unique_ptr<RefBlock>> blocks;
    for (int64_t l = 0; l < L; ++l) blocks.push_back(std::make_unique<RefBlock>(*w, l));
    std::vector<std::vector<float>> h(L, std::vector<float>(d, 0.0f));
    std::mt19937 rng(seed);
    std::normal_distribution<double> nd(0, 1);
    std::vector<float> x(d), a(d), out(c.vocab_size);
    for (int64_t id : prompt) {
      emb.row(id, x.data());
      for (float& v : x) v = static_cast<float>(v * (1 + noise * nd(rng)));
      for (int64_t l = 0; l < L; ++l) blocks[l]->forward(x, h[l]);
    }
    rmsnorm_rows(x.data(), final_norm.data(), 1, d, static_cast<float>(c.rms_norm_eps), a.data());
    head.forward(be, {.kind = BitLinearInput::Kind::Plain, .x = a.data(), .ld = d}, 1, out.data());
    return out;
  };
  const auto base = logits(0, 0);
  double worst = 0;
  for (uint32_t seed : {7u, 8u}) {
    const auto p = logits(1e-7, seed);
    double num = 0, den = 0;
    for (size_t v = 0; v < base.size(); ++v) {
      num += (double(p[v]) - base[v]) * (double(p[v]) - base[v]);
      den += double(base[v]) * base[v];
    }
    worst = std::max(worst, std::sqrt(num / den));
  }
  return worst;
}

// The core's greedy tokens against the ref backend's. Free-running first (the acceptance test:
// the same tokens); then, where they differ, teacher-forced with the reference's tokens, so every
// step compares the same history: a step may pick another token only where the reference's top
// two logits are closer than twice the core's largest logit error there, and the core's logit
// error may be at most twice the reference's own movement under one-ulp input noise
// (reference_sensitivity): the core is then as close to the reference as float rounding allows.
void expect_greedy_tokens_of_reference(const std::string& model, const std::vector<int64_t>& prompt, int64_t n) {
  CoreSim core;
  HwModel hw(open_weight_source(model), core);
  const Decode want = decode_reference(model, prompt, n);
  const Decode got = decode_on_core(hw, prompt, n);
  const int64_t steps = static_cast<int64_t>(prompt.size()) + n - 1;
  // The yardstick: mmfree's fast kernels against its ref backend, two float implementations.
  const Decode fast = decode_reference(model, prompt, n, false);
  const StepErrors fe = step_errors(fast, want.logits);
  std::printf("[ hw ] %s: the fast backend against the ref backend: logits per step median %.1e, max %.1e\n",
              model.c_str(), median(fe.rel), *std::max_element(fe.rel.begin(), fe.rel.end()));
  if (got.ids == want.ids) {
    report(model, got, want.ids, step_errors(got, want.logits), steps, hw.weight_bytes_per_token());
    return;
  }
  report(model + " (free-running)", got, want.ids, step_errors(got, want.logits), steps, hw.weight_bytes_per_token());
  hw.reset();
  const Decode forced = decode_on_core(hw, prompt, n, &want.ids);
  const StepErrors e = step_errors(forced, want.logits);
  report(model + " (teacher-forced)", forced, want.ids, e, steps, hw.weight_bytes_per_token());
  for (int64_t i = 0; i < n; ++i) {
    std::printf("[ hw ]   step %lld: core %lld, ref %lld, ref top-2 margin %.2e, core logit error max %.2e (rel L2 %.1e)\n",
                (long long)i, (long long)forced.ids[i], (long long)want.ids[i], e.margin[i], e.max_abs[i], e.rel[i]);
    if (forced.ids[i] != want.ids[i]) {
      EXPECT_LT(e.margin[i], 2 * e.max_abs[i]) << "step " << i;
    }
  }
  const double spread = reference_sensitivity(model, prompt);
  std::printf("[ hw ] %s: the ref backend's own logits move by %.1e (rel L2) under 1e-7 relative input noise; the "
              "core's (teacher-forced) median %.1e\n",
              model.c_str(), spread, median(e.rel));
  EXPECT_LT(median(e.rel), 2 * spread);
}

TEST(HwModel, DefaultModelGreedyTokensMatchReferenceBackend) {
  // "It is a truth universally"
  expect_greedy_tokens_of_reference(MMFREE_SOURCE_DIR "/models/default.gguf", {1, 610, 350, 261, 1679, 535, 4039}, 16);
}

// Any model, such as a random preset (mmfree init --preset 370M): minutes, so not in the suite.
TEST(HwModel, ModelFromEnvironmentGreedyTokensMatchReferenceBackend) {
  const char* model = std::getenv("MMFREE_HW_MODEL");
  if (!model) GTEST_SKIP() << "set MMFREE_HW_MODEL=FILE to decode that model on the core (docs/HARDWARE.md)";
  std::vector<int64_t> prompt = {1, 415, 2936, 9060};
  if (const char* ids = std::getenv("MMFREE_HW_PROMPT_IDS")) {
    std::istringstream in(ids);
    prompt.assign(std::istream_iterator<int64_t>(in), std::istream_iterator<int64_t>());
  }
  expect_greedy_tokens_of_reference(model, prompt, 16);
}

}  // namespace
}  // namespace mmfree::hw

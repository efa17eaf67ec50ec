// The model on the fast kernels (every instruction set, threads) against the same model on the
// reference kernels: tiny_a (I8 and TQ2_0 layers) and a random model whose every matrix has
// k % 256 == 0, so that all of it runs on TQ2_0.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "format/safetensors.h"
#include "kernels/cpu_isa.h"
#include "model/model.h"
#include "model/tensor_names.h"
#include "test_util.h"
#include "util/error.h"

namespace mmfree {
namespace {

// Writes a random hgrn_bit checkpoint: d 256, I 512 (so every BitLinear has k % 256 == 0), odd vocab.
void write_random_model(const std::string& dir) {
  ModelConfig c;
  c.vocab_size = 301;
  c.hidden_size = 256;
  c.num_layers = 2;
  c.intermediate_size = 512;
  std::mt19937 rng(42);
  std::normal_distribution<float> weight(0.0f, 0.05f), near_one(1.0f, 0.2f);
  SafetensorsWriter w;
  for (const TensorSpec& t : expected_tensors(c)) {
    int64_t count = 1;
    for (int64_t s : t.shape) count *= s;
    std::vector<float> v(static_cast<size_t>(count));
    const bool norm = t.name.find("norm") != std::string::npos;
    for (auto& x : v) x = norm ? near_one(rng) : weight(rng);
    w.add_f32(t.name, t.shape, v);
  }
  w.write(dir + "/model.safetensors");
  std::ofstream(dir + "/config.json") << c.to_json().dump(2);
}

DeviceOptions options(bool reference, int threads, const std::string& isa) {
  DeviceOptions o;
  o.device = reference ? "ref" : "cpu";
  o.threads = threads;
  o.isa = isa;
  return o;
}

void compare_fast_with_reference(const std::string& dir) {
  const auto reference = Model::load(dir, options(true, 1, ""));
  const int64_t B = 2, T = 41, V = reference->config().vocab_size;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> tok(0, V - 1);
  std::vector<int64_t> ids(static_cast<size_t>(B * T));
  for (auto& id : ids) id = tok(rng);
  const auto want = test::all_logits(*reference, ids, B, T);
  for (Isa isa : available_isas())
    for (int threads : {1, 2}) {
      const auto fast = Model::load(dir, options(false, threads, isa_name(isa)));
      const auto got = test::all_logits(*fast, ids, B, T);
      const auto c = test::compare_logits(got.data(), want.data(), B * T, V);
      std::printf("[ metric ] fast (%s, %d threads) vs reference: %s\n", isa_name(isa), threads, test::describe(c).c_str());
      // Integer products are exact; only float sums are reordered. Measured: median 0, worst
      // 2.1e-7 (AVX-512's exp, ~1 ulp): bounds 1e-6 and 1e-5.
      EXPECT_LE(c.median, 1e-6) << isa_name(isa);
      EXPECT_LE(c.worst, 1e-5) << isa_name(isa) << " " << test::describe(c);
      EXPECT_GE(c.argmax_agreement, 0.99) << isa_name(isa);
    }
}

TEST(FastForward, TinyAMatchesReferencePath) { compare_fast_with_reference(test::tiny_a()); }

TEST(FastForward, Tq2ModelMatchesReferencePath) {
  test::TempDir dir;
  write_random_model(dir.path().string());
  compare_fast_with_reference(dir.path().string());
}

TEST(FastForward, DecodeStepsMatchFullSequence) {
  // The decode path (one token, 8-row weight streams, threads) against prefill on the same model.
  test::TempDir dir;
  write_random_model(dir.path().string());
  const auto m = Model::load(dir.path().string(), options(false, 2, ""));
  const int64_t T = 9, V = m->config().vocab_size;
  std::vector<int64_t> ids = {1, 5, 300, 7, 7, 0, 42, 99, 250};
  const auto full = test::all_logits(*m, ids, 1, T);
  StatePool st(*m, 1);
  Workspace ws(*m, 1);
  std::vector<float> stepped(static_cast<size_t>(T * V));
  for (int64_t t = 0; t < T; ++t) m->forward(&ids[t], 1, 1, st, ws, stepped.data() + t * V, false);
  const auto c = test::compare_logits(stepped.data(), full.data(), T, V);
  EXPECT_LE(c.median, 1e-6) << test::describe(c);
  EXPECT_GE(c.argmax_agreement, 0.99);
}

TEST(FastForward, BadComputeOptionsAreRejected) {
  try {
    Model::load(test::tiny_a(), options(false, 0, "neon"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "unknown instruction set 'neon' (expected scalar, avx2, avx512 or avx512vnni)");
  }
  EXPECT_THROW(Model::load(test::tiny_a(), options(false, -1, "")), Error);
}

}  // namespace
}  // namespace mmfree

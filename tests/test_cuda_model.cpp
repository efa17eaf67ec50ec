// The whole model on the CUDA backend against the CPU backend: tiny_a (I8 layers, F32 embeddings)
// and a random 370M-shaped model (TQ2_0_R8 layers re-laid on the device, BF16 embeddings). The
// integer sums are exact on both; the float work (RMSNorm sums in another order, CUDA's expf) may
// move an int8 code across a rounding boundary now and then, so logits are compared per position:
// median relative L2 <= 1e-5 (issue 12), the same argmax everywhere, and greedy decoding (CUDA
// graphs on the device) gives the same tokens. Skipped, saying why, without a usable GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "format/safetensors.h"
#include "model/model.h"
#include "model/random_model.h"
#include "test_util.h"

namespace mmfree {
namespace {

std::string cuda_unavailable() {
  try {
    make_backend(DeviceOptions{.device = "cuda", .threads = 0, .isa = ""});
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::vector<int64_t> greedy(const Model& m, const std::vector<int64_t>& prompt, int64_t steps) {
  const int64_t V = m.config().vocab_size;
  StatePool st(m, 1);
  Workspace ws(m, static_cast<int64_t>(prompt.size()));
  std::vector<float> logits(static_cast<size_t>(V));
  m.forward(prompt.data(), 1, static_cast<int64_t>(prompt.size()), st, ws, logits.data(), false);
  std::vector<int64_t> out;
  for (int64_t s = 0; s < steps; ++s) {
    int64_t next = std::max_element(logits.begin(), logits.end()) - logits.begin();
    out.push_back(next);
    m.forward(&next, 1, 1, st, ws, logits.data(), false);
  }
  return out;
}

void compare_devices(const std::string& model, const std::vector<int64_t>& ids, int64_t B, int64_t T, int64_t steps) {
  const auto cpu = Model::load(model, DeviceOptions{.device = "cpu", .threads = 0, .isa = ""});
  const auto gpu = Model::load(model, DeviceOptions{.device = "cuda", .threads = 0, .isa = ""});
  const int64_t V = cpu->config().vocab_size;
  const auto want = test::all_logits(*cpu, ids, B, T);
  const auto got = test::all_logits(*gpu, ids, B, T);
  const auto c = test::compare_logits(got.data(), want.data(), B * T, V);
  std::printf("[ metric ] cuda vs cpu logits (%s): %s\n", model.c_str(), test::describe(c).c_str());
  EXPECT_LE(c.median, 1e-5);
  EXPECT_EQ(c.argmax_agreement, 1.0);
  const std::vector<int64_t> prompt(ids.begin(), ids.begin() + std::min<int64_t>(T, 11));
  EXPECT_EQ(greedy(*gpu, prompt, steps), greedy(*cpu, prompt, steps));
}

class CudaModel : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = cuda_unavailable();
    if (!why.empty()) GTEST_SKIP() << "CUDA model tests skipped: " << why;
  }
};

TEST_F(CudaModel, TinyAMatchesCpu) {
  const SafetensorsFile golden(test::tiny_a() + "/golden.safetensors");
  const auto ids = golden.get("input_ids").to_i64();
  compare_devices(test::tiny_a(), ids, golden.get("input_ids").shape[0], golden.get("input_ids").shape[1], 20);
}

// Every weight format and embedding type the device reads, on a small random model.
TEST_F(CudaModel, EveryStorageTypeMatchesCpu) {
  ModelConfig c;
  c.vocab_size = 1000;
  c.hidden_size = 256;
  c.num_layers = 2;
  c.intermediate_size = 768;
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < 2 * 20; ++i) ids.push_back((i * 7919 + 13) % 1000);
  for (TernaryFormat f : {TernaryFormat::TQ2_0_R8, TernaryFormat::TQ2_0, TernaryFormat::TQ1_0})
    for (GgmlType e : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0}) {
      SCOPED_TRACE(std::string(format_name(f)) + " / " + ggml_type_name(static_cast<uint32_t>(e)));
      test::TempDir dir;
      const std::string path = (dir.path() / "m.gguf").string();
      write_random_model(path, c, 3, ModelFileOptions{.weights = f, .embeddings = e, .name = "", .extra_metadata = {}});
      compare_devices(path, ids, 2, 20, 4);
    }
}

// A random 370M-shaped model is chaotic: one-ulp differences in the float work flip int8 codes,
// and 24 layers amplify them (the CPU's AVX-512 exp against ref's std::exp already moves its
// logits by 1.5e-2; the CUDA backend, with CUDA's expf and another order of the RMSNorm sums, by
// about 0.4). So at full depth only determinism is required: the same logits from two loads of
// the model, bit for bit. Agreement with the CPU is checked at shallow depth below.
TEST_F(CudaModel, Random370MIsDeterministicAcrossLoads) {
  test::TempDir dir;
  const std::string path = (dir.path() / "370m.gguf").string();
  write_random_model(path, preset_config("370M"), 7, ModelFileOptions{.embeddings = GgmlType::BF16, .name = "", .extra_metadata = {}});
  const std::vector<int64_t> ids = {13, 7932, 15851, 23770, 31689, 7608, 15527, 23446};
  const int64_t T = static_cast<int64_t>(ids.size());
  std::vector<float> first;
  for (int load = 0; load < 3; ++load) {
    const auto m = Model::load(path, DeviceOptions{.device = "cuda", .threads = 0, .isa = ""});
    const auto got = test::all_logits(*m, ids, 1, T);
    if (load == 0) {
      first = got;
      continue;
    }
    const auto c = test::compare_logits(got.data(), first.data(), T, 32000);
    std::printf("[ metric ] cuda 370M, load %d vs load 0: %s\n", load, test::describe(c).c_str());
    EXPECT_EQ(got, first) << "load " << load;
  }
}

// The 370M widths at growing depth: a shallow model is not chaotic, so the two devices must agree as
// on the small models (issue 12's 1e-5); deeper, the figures are printed to show where rounding
// differences start to flip codes (8 layers: 0.19 on the H200 run of session 4).
TEST_F(CudaModel, Wide370MLayersMatchCpuAtShallowDepth) {
  const std::vector<int64_t> ids = {13, 7932, 15851, 23770, 31689, 7608, 15527, 23446};
  const int64_t T = static_cast<int64_t>(ids.size());
  for (int64_t L : {1, 2, 4, 8, 16}) {
    ModelConfig c = preset_config("370M");
    c.num_layers = L;
    test::TempDir dir;
    const std::string path = (dir.path() / "m.gguf").string();
    write_random_model(path, c, 7, ModelFileOptions{.embeddings = GgmlType::BF16, .name = "", .extra_metadata = {}});
    const auto cpu = Model::load(path, DeviceOptions{.device = "cpu", .threads = 0, .isa = ""});
    const auto gpu = Model::load(path, DeviceOptions{.device = "cuda", .threads = 0, .isa = ""});
    const auto want = test::all_logits(*cpu, ids, 1, T);
    const auto got = test::all_logits(*gpu, ids, 1, T);
    const auto cmp = test::compare_logits(got.data(), want.data(), T, 32000);
    std::printf("[ metric ] cuda vs cpu, 370M widths, %lld layers: %s\n", static_cast<long long>(L), test::describe(cmp).c_str());
    if (L <= 4) {  // measured: median 0, 0, 5.5e-8; worst position 1.1e-7, 1.2e-7, 3.1e-7
      EXPECT_LE(cmp.median, 1e-5) << L << " layers";
      EXPECT_EQ(cmp.argmax_agreement, 1.0) << L << " layers";
    }
  }
}

// Decode steps whose choices are selected on the device (Model::forward_select) against the same
// steps' logits read back and selected on the host: the same ids and values, for three sequences
// with their own penalties, temperatures and k, over a prefill and 6 decode steps.
TEST_F(CudaModel, ChoicesSelectedOnTheDeviceEqualTheHosts) {
  const auto m = Model::load(test::tiny_a(), DeviceOptions{.device = "cuda", .threads = 0, .isa = ""});
  const int64_t V = m->config().vocab_size, B = 3, T = 4, k = 40;
  StatePool sel_st(*m, B), full_st(*m, B);
  Workspace sel_ws(*m, B * T), full_ws(*m, B * T);
  std::vector<int64_t> tokens;
  for (int64_t i = 0; i < B * T; ++i) tokens.push_back((i * 37 + 5) % V);
  const std::vector<int32_t> slots = {2, 0, 1}, pen0 = {3, 5, 8}, pen2 = {1, 2};
  const std::vector<ChoiceRow> how = {{pen0, 1.3f, 0.8f}, {{}, 1.0f, 0.0f}, {pen2, 1.1f, 1.7f}};
  std::vector<TokenChoice> got(static_cast<size_t>(B * k)), want(static_cast<size_t>(k)), scratch;
  std::vector<float> logits(static_cast<size_t>(B * V));
  int64_t steps = 0, compared = 0;
  for (int64_t t = T; steps < 7; t = 1, ++steps) {
    m->forward_select(tokens.data(), B, t, slots, sel_st, sel_ws, how, k, got.data());
    m->forward(tokens.data(), B, t, slots, full_st, full_ws, logits.data(), false);
    for (int64_t b = 0; b < B; ++b) {
      select_top_host(logits.data() + b * V, V, how[static_cast<size_t>(b)], k, want.data(), scratch);
      for (int64_t i = 0; i < k; ++i, ++compared) {
        const TokenChoice& g = got[static_cast<size_t>(b * k + i)];
        ASSERT_EQ(g.id, want[static_cast<size_t>(i)].id) << "step " << steps << ", sequence " << b << ", choice " << i;
        ASSERT_TRUE(g.logit == want[static_cast<size_t>(i)].logit) << "step " << steps << ", sequence " << b;
      }
      tokens[static_cast<size_t>(b)] = got[static_cast<size_t>(b * k)].id;
    }
  }
  EXPECT_EQ(compared, 7 * B * k);
}

}  // namespace
}  // namespace mmfree

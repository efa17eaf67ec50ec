#pragma once
// The whole hgrn_bit language model: load -> plan (ternary weights, buffers sized once) -> run.
// Prefill and decoding share one code path, so a sequence fed token by token through the recurrent
// state gives the numbers of the same sequence fed whole.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/bitlinear.h"
#include "model/compute.h"
#include "model/config.h"
#include "model/embedding_table.h"
#include "model/glu.h"
#include "model/mlgru.h"
#include "model/weight_source.h"

namespace mmfree {

// The recurrent state of B sequences: h [B][L][d], zero at the start of a sequence.
struct RecurrentState {
  int64_t batch = 0;
  std::vector<float> h;
  RecurrentState(const ModelConfig& c, int64_t batch);
  void reset();
};

// Rows of a workspace that prefill needs for full speed: the kernels take tokens in blocks of about
// 100 (ternary_simd.inc), so longer prompts run in chunks of this many at no cost in speed.
constexpr int64_t kPrefillRows = 256;

// Every buffer a forward call needs, for up to max_rows = B*T rows at once.
struct Workspace {
  int64_t max_rows = 0;
  std::vector<float> x, a, o;  // [rows][d]
  BitLinearScratch bitlinear;
  MlgruScratch mlgru;
  GluScratch glu;
  Workspace(const ModelConfig& c, int64_t max_rows);
};

class Model {
 public:
  // Loads a Hugging Face directory (config.json + safetensors; ternary weights packed at load) or
  // a converted .gguf file (packed weights used in place). `compute` picks the kernels (fast or
  // reference), instruction set and threads.
  static std::unique_ptr<Model> load(const std::string& path, const ComputeOptions& compute = {});
  explicit Model(std::shared_ptr<const WeightSource> weights, const ComputeOptions& compute = {});

  const ModelConfig& config() const { return cfg_; }
  const ComputeContext& compute() const { return compute_.context(); }

  // Runs B sequences of T tokens (tokens [B][T]) from state st, which it advances. Writes logits
  // [B][T][V] when all_positions, else only each sequence's last position, [B][V]. B * T may exceed
  // the workspace's rows when B == 1: the sequence then runs in chunks of ws.max_rows tokens (same
  // result: the recurrence carries its state), so memory does not grow with the prompt.
  void forward(const int64_t* tokens, int64_t B, int64_t T, RecurrentState& st, Workspace& ws, float* logits,
               bool all_positions) const;

  // Bytes of weights one decoded token reads: every BitLinear weight and norm as held in memory,
  // the lower bounds, and one embedding row.
  int64_t weight_bytes_per_token() const;

 private:
  // forward for B * T <= ws.max_rows; logits may be null (no LM head: a chunk before the last).
  void forward_rows(const int64_t* tokens, int64_t B, int64_t T, RecurrentState& st, Workspace& ws, float* logits,
                    bool all_positions) const;

  ModelConfig cfg_;
  Compute compute_;
  std::shared_ptr<const WeightSource> weights_;  // keeps the mapped weights and embeddings alive
  EmbeddingTable embeddings_;
  struct Layer {
    std::vector<float> attn_norm, mlp_norm;
    Mlgru mixer;
    Glu mlp;
  };
  std::vector<Layer> layers_;
  std::vector<float> final_norm_;
  BitLinear lm_head_;
};

// lb[l] = cumsum(softmax(lower_bounds, over layers))[l] - softmax(...)[0], for lower_bounds [L][d].
std::vector<std::vector<float>> lower_bounds_from_params(const std::vector<float>& params, int64_t L, int64_t d);

}  // namespace mmfree

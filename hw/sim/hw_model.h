#pragma once
// The one place where the hardware simulation meets mmfree's model: reads a model (WeightSource)
// into the core's formats, runs every block and the LM head of a decode step on the simulated core
// (the embedding row and sampling stay on the CPU), and runs mmfree's own block for comparison.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core_sim.h"
#include "hw_program.h"
#include "backend/ref/ref_backend.h"
#include "model/embedding_table.h"
#include "model/glu.h"
#include "model/mlgru.h"
#include "model/weight_source.h"

namespace mmfree::hw {

// A model's blocks on one simulated core. The core holds one block's parameters at a time; the
// host swaps them in (and each layer's state h) before the block runs.
class HwModel {
 public:
  HwModel(std::shared_ptr<const WeightSource> w, CoreSim& core);

  const ModelConfig& config() const { return w_->config(); }
  const BlockLayout& layout() const { return layout_; }
  // The v24 state h of every layer, zero at the start of a sequence.
  void reset() { h_.assign(h_.size(), 0); }

  // Block l on the core: x (d floats) in and out, through the core's v24 format; returns cycles.
  int64_t block(int64_t l, std::vector<float>& x);
  // One decode step: the embedding row of token, then every block and the LM head on the core.
  std::vector<float> step(int64_t token);
  // Weight bytes the core streams for one token (all blocks and the head), and the per-layer
  // vectors the host loads (norm weights and lower bounds, p24).
  int64_t weight_bytes_per_token() const;
  int64_t param_bytes_per_token() const;
  int64_t cycles() const { return cycles_; }  // summed over every program run so far

 private:
  // Block l on the x the vector memory holds (v24, left there by the previous block).
  int64_t run_block(int64_t l);

  std::shared_ptr<const WeightSource> w_;
  CoreSim& core_;
  BlockLayout layout_;
  std::vector<std::vector<int32_t>> params_;  // [L][param_words]
  std::vector<std::vector<Instr>> programs_;  // [L]
  std::vector<int64_t> h_;                    // [L][d], v24
  EmbeddingTable emb_;
  std::vector<int32_t> head_params_;  // final norm, head norm
  std::vector<Instr> head_program_;
  int64_t head_beats_ = 0;
  int64_t cycles_ = 0;
};

// mmfree's own block l (its Mlgru and Glu on the ref backend), for comparison with the core.
class RefBlock {
 public:
  RefBlock(const WeightSource& w, int64_t layer);
  void forward(std::vector<float>& x, std::vector<float>& h);  // one token

 private:
  RefBackend be_;  // host memory: x and h are read and written in place
  int64_t d_;
  float eps_;
  UploadedWeights weights_;
  const float* lower_bound_;  // null for layer 0
  ModelVector attn_norm_, mlp_norm_;
  std::vector<float> o_;
  Mlgru mixer_;
  Glu mlp_;
  MlgruScratch ms_;
  GluScratch gs_;
};

}  // namespace mmfree::hw

#pragma once
// The whole hgrn_bit language model: load -> plan (weights uploaded to a backend once, buffers
// sized once) -> run. Prefill and decoding share one code path, so a sequence fed token by token
// through its recurrent state gives the numbers of the same sequence fed whole. The math is
// written once here and in the layers (bitlinear, mlgru, glu); the backend (src/backend/) computes it.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/bitlinear.h"
#include "model/config.h"
#include "model/glu.h"
#include "model/layer_weights.h"
#include "model/mlgru.h"
#include "model/parameters.h"
#include "model/weight_source.h"

namespace mmfree {

class Model;

// The recurrent states of up to `slots` sequences in backend memory, [slots][L][d] floats, each
// zero at the start of a sequence. A forward names the slot of each of its sequences, so
// sequences at different positions run in one batch.
class StatePool {
 public:
  StatePool(const Model& m, int64_t slots);
  int64_t slots() const { return slots_; }
  int64_t slot_floats() const { return slot_floats_; }
  float* data() const { return h_.as<float>(); }
  uint64_t id() const { return id_; }  // unique in the process
  void reset(int64_t slot);
  void reset_all();
  void copy(int64_t from, int64_t to);  // e.g. one context shared by several continuations
  void read(int64_t slot, float* host) const;  // host: slot_floats() floats, [L][d]
  void write(int64_t slot, const float* host);
  std::vector<float> snapshot() const;         // every slot, [slots][L][d]

 private:
  void check_slot(int64_t slot) const;
  Backend* be_;
  uint64_t id_;
  int64_t slots_, slot_floats_;
  Buffer h_;
};

// Where one block's forward puts its work: the mixer's and the GLU's buffers and, for training, the
// residual stream entering the block (x_in) and after its mixer (x_mid); null for inference.
struct BlockBuffers {
  MlgruBuffers mixer;
  GluBuffers mlp;
  float *x_in = nullptr, *x_mid = nullptr;
};

// Every buffer a forward call needs, for up to max_rows = B*T rows at once, in backend memory.
struct Workspace {
  Workspace(const Model& m, int64_t max_rows);
  uint64_t id;  // unique in the process
  int64_t max_rows;
  Buffer x, o;            // [rows][d]: the residual stream, a branch's output
  Buffer tokens, slots;   // [rows] int32, [rows] int32
  Buffer logits;          // [rows][V] when the backend's memory is not the host's
  MlgruScratch mlgru;
  GluScratch glu;
  std::vector<int32_t> host_tokens, host_slots;  // staging, sized once
  std::vector<float> host_logits;                // forward_select on a host backend, sized once
};

// How much a training pass keeps for its backward, per token and layer; the backward forms the
// rest again, with the same numbers:
// - None: everything, 9 d + 3 I floats;
// - Inputs: the residual stream (x_in, x_mid), i, f, g, h and the GLU's gate/up output gv,
//   6 d + 2 I floats; the norms' outputs and the products' gated inputs formed again
//   (element-wise passes);
// - Branch: x_in, i, f and g, 4 d floats; the rest of the block run again from them (the scan,
//   o_proj and the GLU's two products: about half the block's forward work).
enum class Recompute { None, Inputs, Branch, Block };
// "none", "inputs", "branch", "block" and back; Error naming the flag for anything else.
Recompute parse_recompute(const std::string& s);
const char* recompute_name(Recompute r);
// Every level's name, in order (the commands' choices).
std::vector<std::string> recompute_names();

// What a training pass over B sequences of T tokens keeps for its backward (Recompute), and the
// backward's buffers, in backend memory, and [chunk_rows][V] logits at a time (chunks of at most
// 128 MiB).
struct TrainBuffers {
  TrainBuffers(const Model& m, int64_t B, int64_t T, Recompute recompute = Recompute::None);
  int64_t B, T, chunk_rows;
  Recompute recompute;
  struct Layer {
    Buffer x_in;
    // Empty where recompute forms them again: the shared ones below.
    Buffer i = {}, f = {}, g = {}, x_mid = {}, h = {}, gv = {}, a = {}, o_in = {}, m = {}, z = {};
  };
  std::vector<Layer> layers;
  // One set for every layer.
  Buffer shared_i, shared_f, shared_g, shared_x_mid, shared_h, shared_gv, shared_a, shared_o_in, shared_m, shared_z;
  std::vector<BlockBuffers> views;  // where each layer works, for Model::run_blocks
  // With Recompute::Block, where the backend offers it: the dequantised inputs of one layer's i, f, g,
  // o and gate/up products, kept by the recompute's forward for the backward (BitLinearCall::keep_xq).
  Buffer operands;  // 5 equal parts, in that order
  // Layer l's view for its recompute and backward: views[l] with the operands above, if any.
  BlockBuffers backward_view(int64_t l) const;
  Buffer x, o, x_final, final_normed;  // [rows][d]
  Buffer tokens, labels, slots;        // int32 [rows], [rows], [B]
  Buffer states;                       // [B][L][d]: each sequence starts from zero
  Buffer logits;                       // [chunk_rows][V]
  Buffer dx, d_branch;                 // [rows][d]: gradients at the residual stream, at a norm's output
  Buffer dlb;                          // [L][d]: gradients at the lower bounds lb[l]
  // The backward's scratch: the GLU's, then the MLGRU's, in one buffer.
  Buffer backward_scratch;
  MlgruGrads mixer_grads;
  GluGrads mlp_grads;
  std::vector<int32_t> host_labels;
};

class Model {
 public:
  // Loads a Hugging Face directory (config.json + safetensors; ternary weights packed at load) or
  // a converted .gguf file (packed weights used in place) onto the backend `device` names.
  static std::unique_ptr<Model> load(const std::string& path, const DeviceOptions& device = {});
  Model(std::shared_ptr<const WeightSource> weights, std::unique_ptr<Backend> backend);
  // A model to train: its weights are the latent tensors of `params` (on `backend`), quantised
  // again by prepare_step(); identity_quantizers makes every BitLinear RMSNorm + a float linear
  // layer (gradient checks). params must outlive the model.
  Model(const ModelConfig& c, ParameterArena& params, std::shared_ptr<Backend> backend, bool identity_quantizers);

  const ModelConfig& config() const { return cfg_; }
  Backend& backend() const { return *be_; }

  // Runs B sequences of T tokens (tokens [B][T], host memory); sequence b advances state slot
  // slots[b] (distinct). Writes logits (host memory) [B][T][V] when all_positions, else only each
  // sequence's last position, [B][V]. B * T may exceed the workspace's rows when B == 1: the
  // sequence then runs in chunks of ws.max_rows tokens (same result: the recurrence carries its
  // state), so memory does not grow with the prompt.
  void forward(const int64_t* tokens, int64_t B, int64_t T, std::span<const int32_t> slots, StatePool& st, Workspace& ws,
               float* logits, bool all_positions) const;
  // The same with sequence b in slot b.
  void forward(const int64_t* tokens, int64_t B, int64_t T, StatePool& st, Workspace& ws, float* logits,
               bool all_positions) const;
  // forward, then each sequence's next-token choices at its last position (Backend::select_top with
  // how[b], k) instead of its logits, out [B][min(k, V)]: on a GPU the logits stay there and only
  // the choices cross to the host.
  void forward_select(const int64_t* tokens, int64_t B, int64_t T, std::span<const int32_t> slots, StatePool& st,
                      Workspace& ws, std::span<const ChoiceRow> how, int64_t k, TokenChoice* out) const;

  // Bytes of weights one decoded token reads: every BitLinear weight and norm as held in memory,
  // the lower bounds, and one embedding row.
  int64_t weight_bytes_per_token() const;

  // Training (a model made from a ParameterArena). Derives this step's weights (ternary codes,
  // lower bounds) from the parameters: call after they change.
  void prepare_step() const;
  // tokens [B][T] (host; B, T as tb was made for); labels are the tokens shifted left, the last
  // position of each row unlabelled. Returns the NLL summed over the labelled positions; when
  // grad_coef is not 0, adds d(grad_coef * NLL)/d(parameter) to every gradient of the arena.
  double train_pass(const int32_t* tokens, TrainBuffers& tb, float grad_coef) const;
  // The logits [B][T][V] (host) of every position through the training forward.
  void train_logits(const int32_t* tokens, TrainBuffers& tb, float* logits) const;

 private:
  friend struct TrainBuffers;
  // The blocks over B*T rows: x [rows][d] holds the embedded tokens and becomes the residual
  // stream less the last branch, o [rows][d] receives that branch. buf: one entry for every layer
  // (inference scratch) or one per layer (what training keeps).
  void run_blocks(int64_t B, int64_t T, float* x, float* o, const StateSlots& st, std::span<const BlockBuffers> buf) const;
  // The training forward up to the LM head's input (kept in tb).
  void train_forward(const int32_t* tokens, TrainBuffers& tb) const;
  void train_backward(TrainBuffers& tb) const;
  // recompute: what layer l's forward formed and tb did not keep, formed again from what it kept.
  void recompute(TrainBuffers& tb, int64_t l, const BlockBuffers& b) const;
  void build(LayerWeights& w);

  // forward; with keep, a device backend leaves the logits in ws.logits (logits only says whether
  // to compute them).
  void forward_to(const int64_t* tokens, int64_t B, int64_t T, std::span<const int32_t> slots, StatePool& st,
                  Workspace& ws, float* logits, bool all_positions, bool keep) const;
  // forward_to for B * T <= ws.max_rows; logits may be null (no LM head: a chunk before the last).
  void forward_rows(const int64_t* tokens, int64_t B, int64_t T, const int32_t* slots, StatePool& st, Workspace& ws,
                    float* logits, bool all_positions, bool keep) const;

  // The ops of one forward_rows call, after its inputs are in backend memory (recordable).
  struct Steps {
    const Model* m;
    int64_t B, T;
    StatePool* st;
    Workspace* ws;
    float* logits;  // backend memory, or null
    bool all_positions;
    void run() const;
  };

  ModelConfig cfg_;
  std::shared_ptr<Backend> be_;
  std::unique_ptr<LayerWeights> weights_;
  ParameterArena* params_ = nullptr;  // training
  int64_t embedding_row_bytes_ = 0;
  std::unique_ptr<BackendEmbeddings> embeddings_;
  Buffer lower_bounds_;  // [L][d]: lb[l] of SPEC.md (row 0 unused)
  struct Layer {
    ModelVector attn_norm, mlp_norm;
    Mlgru mixer;
    Glu mlp;
  };
  std::vector<Layer> layers_;
  ModelVector final_norm_;
  BitLinear lm_head_;
};

// lb[l] = cumsum(softmax(lower_bounds, over layers))[l] - softmax(...)[0], for lower_bounds [L][d].
std::vector<std::vector<float>> lower_bounds_from_params(std::span<const float> params, int64_t L, int64_t d);
// Its backward: given dlb [L][d], adds d(loss)/d(params) to dparams [L][d].
void lower_bounds_backward(std::span<const float> params, const float* dlb, int64_t L, int64_t d, float* dparams);

}  // namespace mmfree

#include "model/model.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "model/tensor_names.h"
#include "util/error.h"
#include "util/progress.h"

namespace mmfree {

namespace {
// Identities for recordings (Backend::run_recorded): never reused, unlike addresses.
std::atomic<uint64_t> g_next_id{1};
}  // namespace

StatePool::StatePool(const Model& m, int64_t slots)
    : be_(&m.backend()),
      id_(g_next_id++),
      slots_(slots),
      slot_floats_(m.config().num_layers * m.config().hidden_size),
      h_(be_->alloc(slots * slot_floats_ * static_cast<int64_t>(sizeof(float)))) {
  check(slots >= 1, "a state pool needs at least one slot");
}

void StatePool::check_slot(int64_t slot) const {
  if (slot < 0 || slot >= slots_)
    throw Error("internal: state slot " + std::to_string(slot) + " outside [0, " + std::to_string(slots_) + ")");
}

void StatePool::reset(int64_t slot) {
  check_slot(slot);
  be_->fill_zero(data() + slot * slot_floats_, slot_floats_ * static_cast<int64_t>(sizeof(float)));
}

void StatePool::reset_all() { be_->fill_zero(data(), slots_ * slot_floats_ * static_cast<int64_t>(sizeof(float))); }

void StatePool::copy(int64_t from, int64_t to) {
  check_slot(from);
  check_slot(to);
  if (from != to)
    be_->copy(data() + to * slot_floats_, data() + from * slot_floats_, slot_floats_ * static_cast<int64_t>(sizeof(float)));
}

void StatePool::read(int64_t slot, float* host) const {
  check_slot(slot);
  be_->read(host, data() + slot * slot_floats_, slot_floats_ * static_cast<int64_t>(sizeof(float)));
}

void StatePool::write(int64_t slot, const float* host) {
  check_slot(slot);
  be_->write(data() + slot * slot_floats_, host, slot_floats_ * static_cast<int64_t>(sizeof(float)));
}

std::vector<float> StatePool::snapshot() const {
  std::vector<float> h(static_cast<size_t>(slots_ * slot_floats_));
  be_->read(h.data(), data(), static_cast<int64_t>(h.size() * sizeof(float)));
  return h;
}

Workspace::Workspace(const Model& m, int64_t rows)
    : id(g_next_id++),
      max_rows(rows),
      x(m.backend().alloc(rows * m.config().hidden_size * 4)),
      o(m.backend().alloc(rows * m.config().hidden_size * 4)),
      tokens(m.backend().alloc(rows * 4)),
      slots(m.backend().alloc(rows * 4)),
      logits(m.backend().host_memory() ? Buffer() : m.backend().alloc(rows * m.config().vocab_size * 4)),
      mlgru(m.backend(), rows, m.config().hidden_size),
      glu(m.backend(), rows, m.config().intermediate_size),
      host_tokens(static_cast<size_t>(rows)),
      host_slots(static_cast<size_t>(rows)) {
  check(rows >= 1, "a workspace needs at least one row");
  m.backend().reserve(rows, std::max(m.config().hidden_size, m.config().intermediate_size));
}

std::vector<std::vector<float>> lower_bounds_from_params(std::span<const float> params, int64_t L, int64_t d) {
  std::vector<std::vector<float>> lb(static_cast<size_t>(L), std::vector<float>(static_cast<size_t>(d)));
  for (int64_t c = 0; c < d; ++c) {
    double mx = -INFINITY;
    for (int64_t l = 0; l < L; ++l) mx = std::max(mx, static_cast<double>(params[l * d + c]));
    double z = 0;
    for (int64_t l = 0; l < L; ++l) z += std::exp(params[l * d + c] - mx);
    const double p0 = std::exp(params[c] - mx) / z;
    double cum = 0;
    for (int64_t l = 0; l < L; ++l) {
      cum += std::exp(params[l * d + c] - mx) / z;
      lb[l][c] = static_cast<float>(cum - p0);
    }
  }
  return lb;
}

std::unique_ptr<Model> Model::load(const std::string& path, const DeviceOptions& device) {
  auto be = make_backend(device);  // a bad --device fails before the model is read
  return std::make_unique<Model>(open_weight_source(path), std::move(be));
}

Model::Model(std::shared_ptr<const WeightSource> weights, std::unique_ptr<Backend> backend)
    : cfg_(weights->config()), be_(std::move(backend)) {
  auto uploaded = std::make_unique<UploadedWeights>(*be_, weights);
  const EmbeddingTable table = weights->embeddings();
  embedding_row_bytes_ = table.row_bytes();
  embeddings_ = be_->upload_embeddings(table);
  const int64_t L = cfg_.num_layers, d = cfg_.hidden_size;
  lower_bounds_ = be_->alloc(L * d * static_cast<int64_t>(sizeof(float)));
  const auto lb = lower_bounds_from_params(weights->floats("model.lower_bounds"), L, d);
  for (int64_t l = 0; l < L; ++l) be_->write(lower_bounds_.as<float>() + l * d, lb[l].data(), d * static_cast<int64_t>(sizeof(float)));
  weights_ = std::move(uploaded);
  build(*weights_);
}

Model::Model(const ModelConfig& c, ParameterArena& params, std::shared_ptr<Backend> backend, bool identity_quantizers)
    : cfg_(c), be_(std::move(backend)), params_(&params) {
  weights_ = std::make_unique<ArenaWeights>(*be_, params, identity_quantizers);
  embedding_row_bytes_ = cfg_.hidden_size * static_cast<int64_t>(sizeof(float));
  embeddings_ = be_->float_embeddings(params["model.embeddings.weight"].value_mem, cfg_.vocab_size, cfg_.hidden_size);
  lower_bounds_ = be_->alloc(cfg_.num_layers * cfg_.hidden_size * static_cast<int64_t>(sizeof(float)));
  build(*weights_);
}

void Model::build(LayerWeights& w) {
  const int64_t L = cfg_.num_layers, d = cfg_.hidden_size;
  layers_.reserve(static_cast<size_t>(L));
  Progress progress("loading the model", static_cast<double>(L), "layers");  // packing F32 weights takes a while
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = layer_prefix(l);
    const bool use_lb = cfg_.use_lower_bound && l > 0;  // layer 0 has no lower bound
    layers_.push_back(Layer{w.vector(p + "attn_norm.weight"), w.vector(p + "mlp_norm.weight"),
                            Mlgru(w, l, cfg_, use_lb ? lower_bounds_.as<float>() + l * d : nullptr), Glu(w, l, cfg_)});
    progress.add(1);
  }
  final_norm_ = w.vector("model.norm.weight");
  lm_head_ = w.bitlinear("lm_head");
}

int64_t Model::weight_bytes_per_token() const {
  const int64_t norm_bytes = cfg_.hidden_size * static_cast<int64_t>(sizeof(float));
  int64_t b = embedding_row_bytes_ + lm_head_.weight_bytes() + norm_bytes;
  for (const auto& l : layers_) b += l.mixer.weight_bytes() + l.mlp.weight_bytes() + 2 * norm_bytes;
  return b;
}

void Model::forward(const int64_t* tokens, int64_t B, int64_t T, StatePool& st, Workspace& ws, float* logits,
                    bool all_positions) const {
  if (B > static_cast<int64_t>(ws.host_slots.size()) || B > st.slots())
    throw Error("internal: " + std::to_string(B) + " sequences for " + std::to_string(st.slots()) + " state slots");
  int32_t* slots = ws.host_slots.data();
  for (int64_t b = 0; b < B; ++b) slots[b] = static_cast<int32_t>(b);
  forward(tokens, B, T, {slots, static_cast<size_t>(B)}, st, ws, logits, all_positions);
}

void Model::forward(const int64_t* tokens, int64_t B, int64_t T, std::span<const int32_t> slots, StatePool& st,
                    Workspace& ws, float* logits, bool all_positions) const {
  forward_to(tokens, B, T, slots, st, ws, logits, all_positions, false);
}

void Model::forward_select(const int64_t* tokens, int64_t B, int64_t T, std::span<const int32_t> slots, StatePool& st,
                           Workspace& ws, std::span<const ChoiceRow> how, int64_t k, TokenChoice* out) const {
  if (static_cast<int64_t>(how.size()) != B) throw Error("internal: one choice row per sequence");
  const int64_t V = cfg_.vocab_size;
  Backend& be = *be_;
  if (be.host_memory()) {
    ws.host_logits.resize(static_cast<size_t>(B * V));  // the first call only
    forward_to(tokens, B, T, slots, st, ws, ws.host_logits.data(), false, false);
    return be.select_top(ws.host_logits.data(), V, how, k, out);
  }
  forward_to(tokens, B, T, slots, st, ws, ws.logits.as<float>(), false, true);
  be.select_top(ws.logits.as<float>(), V, how, k, out);
}

void Model::forward_to(const int64_t* tokens, int64_t B, int64_t T, std::span<const int32_t> slots, StatePool& st,
                       Workspace& ws, float* logits, bool all_positions, bool keep) const {
  // Checks on this path build their message only on failure: forward runs once per decoded token
  // and allocates nothing.
  if (static_cast<int64_t>(slots.size()) != B) throw Error("internal: one state slot per sequence");
  for (int64_t b = 0; b < B; ++b) {
    if (slots[b] < 0 || slots[b] >= st.slots())
      throw Error("internal: state slot " + std::to_string(slots[b]) + " outside the pool");
    for (int64_t c = 0; c < b; ++c)
      if (slots[c] == slots[b]) throw Error("internal: two sequences of one batch share state slot " + std::to_string(slots[b]));
  }
  if (B != 1 || T <= ws.max_rows) return forward_rows(tokens, B, T, slots.data(), st, ws, logits, all_positions, keep);
  const int64_t V = cfg_.vocab_size;
  for (int64_t t0 = 0; t0 < T; t0 += ws.max_rows) {
    const int64_t tc = std::min(ws.max_rows, T - t0);
    float* out = all_positions ? logits + t0 * V : t0 + tc == T ? logits : nullptr;
    forward_rows(tokens + t0, 1, tc, slots.data(), st, ws, out, all_positions, keep);
  }
}

void Model::forward_rows(const int64_t* tokens, int64_t B, int64_t T, const int32_t* slots, StatePool& st,
                         Workspace& ws, float* logits, bool all_positions, bool keep) const {
  const int64_t n = B * T, V = cfg_.vocab_size;
  if (n > ws.max_rows)
    throw Error("internal: workspace holds " + std::to_string(ws.max_rows) + " rows, call needs " + std::to_string(n));
  Backend& be = *be_;
  for (int64_t r = 0; r < n; ++r) {
    if (tokens[r] < 0 || tokens[r] >= V)
      throw Error("token id " + std::to_string(tokens[r]) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
    ws.host_tokens[r] = static_cast<int32_t>(tokens[r]);
  }
  be.write(ws.tokens.as<void>(), ws.host_tokens.data(), n * 4);
  if (slots != ws.host_slots.data()) std::copy_n(slots, B, ws.host_slots.data());
  be.write(ws.slots.as<void>(), ws.host_slots.data(), B * 4);
  // The ops read tokens and slots from backend memory, so one recording serves every call of the
  // same shape on the same workspace and states (a decode step).
  const int64_t rows = all_positions ? n : B;
  float* out = !logits ? nullptr : be.host_memory() ? logits : ws.logits.as<float>();
  Steps steps{this, B, T, &st, &ws, out, all_positions};
  if (T == 1 && !be.host_memory()) {
    const RecordingKey key{ws.id, st.id(), B, (out ? 2u : 0u) | (all_positions ? 1u : 0u)};
    be.run_recorded(key, [](void* p) { static_cast<Steps*>(p)->run(); }, &steps);
  } else {
    steps.run();
  }
  if (out && !be.host_memory() && !keep) be.read(logits, out, rows * V * static_cast<int64_t>(sizeof(float)));
}

void Model::Steps::run() const {
  const ModelConfig& c = m->cfg_;
  const int64_t n = B * T, d = c.hidden_size;
  Backend& be = *m->be_;
  float *x = ws->x.as<float>(), *o = ws->o.as<float>();
  be.embed(*m->embeddings_, ws->tokens.as<int32_t>(), n, x);
  const BlockBuffers scratch{ws->mlgru.buffers(), ws->glu.buffers()};
  m->run_blocks(B, T, x, o, {st->data(), ws->slots.as<int32_t>(), st->slot_floats()}, {&scratch, 1});
  if (!logits) return;  // a chunk before the last: only its states are wanted
  // Every position, or each sequence's last one (rows T*d apart).
  const int64_t rows = all_positions ? n : B, first = all_positions ? 0 : (T - 1) * d, ld = all_positions ? d : T * d;
  m->lm_head_.forward(be, {.kind = BitLinearInput::Kind::Norm, .x = x + first, .ld = ld, .add = o + first,
                           .w = m->final_norm_.value, .eps = static_cast<float>(c.rms_norm_eps)},
                      rows, logits);
}

void Model::run_blocks(int64_t B, int64_t T, float* x, float* o, const StateSlots& st,
                       std::span<const BlockBuffers> buf) const {
  const int64_t n = B * T, d = cfg_.hidden_size, L = cfg_.num_layers;
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  Backend& be = *be_;
  // x is the residual stream: each branch's input adds the last branch's output o to it, then
  // normalises (BitLinearInput::Kind::Norm, fused with the quantisation where a backend can).
  using Kind = BitLinearInput::Kind;
  for (int64_t l = 0; l < L; ++l) {
    const Layer& layer = layers_[l];
    const BlockBuffers& b = buf[buf.size() == 1 ? 0 : l];
    layer.mixer.forward(be, {.kind = Kind::Norm, .x = x, .ld = d, .add = l > 0 ? o : nullptr, .w = layer.attn_norm.value, .eps = eps, .keep_x = b.x_in},
                        B, T, st, l * d, o, b.mixer);
    layer.mlp.forward(be, {.kind = Kind::Norm, .x = x, .ld = d, .add = o, .w = layer.mlp_norm.value, .eps = eps, .keep_x = b.x_mid},
                      n, o, b.mlp);
  }
}

}  // namespace mmfree

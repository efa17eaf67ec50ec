#include "hw_model.h"

#include <algorithm>
#include <cmath>

#include "model/model.h"
#include "model/ops.h"
#include "model/tensor_names.h"
#include "util/error.h"

namespace mmfree::hw {

namespace {

// A float vector in one of the core's fixed-point formats (to_p24, to_v24).
template <class T>
std::vector<T> fixed_vector(const std::vector<float>& v, T (*to)(double)) {
  std::vector<T> out(v.size());
  std::transform(v.begin(), v.end(), out.begin(), [to](float x) { return to(x); });
  return out;
}

// The lower bounds each layer's MLGRU uses (zero where the model uses none: f is then unchanged).
std::vector<std::vector<float>> lower_bounds(const WeightSource& w) {
  const ModelConfig& c = w.config();
  auto lb = lower_bounds_from_params(w.floats("model.lower_bounds"), c.num_layers, c.hidden_size);
  for (int64_t l = 0; l < c.num_layers; ++l)
    if (!c.use_lower_bound || l == 0) std::fill(lb[l].begin(), lb[l].end(), 0.0f);
  return lb;
}

}  // namespace

HwModel::HwModel(std::shared_ptr<const WeightSource> w, CoreSim& core)
    : w_(std::move(w)),
      core_(core),
      layout_(w_->config().hidden_size, w_->config().intermediate_size, kLanes),
      emb_(w_->embeddings()) {
  const ModelConfig& c = w_->config();
  const int64_t L = c.num_layers, d = c.hidden_size;
  if (c.rms_norm_eps != 1e-6)
    throw Error("hw: the core's RMSNorm has eps 1e-6; this model's rms_norm_eps is " + std::to_string(c.rms_norm_eps));
  const auto lb = lower_bounds(*w_);
  const char* const names[] = {"attn.i_proj", "attn.f_proj", "attn.g_proj", "attn.o_proj", "mlp.gate_proj", "mlp.down_proj"};
  std::vector<uint8_t> dram;
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = layer_prefix(l);
    std::vector<int32_t> params(static_cast<size_t>(layout_.param_words()));
    const auto put = [&](BlockLayout::Param at, const std::vector<float>& v) {
      for (float x : v)
        if (!(std::fabs(x) < 128.0f))
          throw Error("hw: layer " + std::to_string(l) + " has a norm weight " + std::to_string(x) +
                      " outside the core's parameter range (-128, 128)");
      const auto q = fixed_vector(v, to_p24);
      std::copy(q.begin(), q.end(), params.begin() + layout_.param(at));
    };
    float s_w[BlockLayout::kMatrices];
    const uint32_t base = static_cast<uint32_t>(dram.size() / (kLanes / 4));
    const BlockLayout::Param norm_of[] = {BlockLayout::INorm, BlockLayout::FNorm, BlockLayout::GNorm,
                                          BlockLayout::ONorm, BlockLayout::GateNorm, BlockLayout::DownNorm};
    for (int m = 0; m < BlockLayout::kMatrices; ++m) {
      const PackedLinear bl = w_->bitlinear(p + names[m]);
      s_w[m] = bl.weight_scale();
      put(norm_of[m], bl.norm());
      const auto t = bl.ternary();
      const auto bytes = pack_weights(t.data(), bl.weight().rows, bl.weight().cols);
      dram.insert(dram.end(), bytes.begin(), bytes.end());
    }
    put(BlockLayout::AttnNorm, w_->floats(p + "attn_norm.weight"));
    put(BlockLayout::GOutNorm, w_->floats(p + "attn.g_norm.weight"));
    put(BlockLayout::MlpNorm, w_->floats(p + "mlp_norm.weight"));
    put(BlockLayout::LowerBound, lb[l]);
    params_.push_back(std::move(params));
    auto prog = block_program(layout_, s_w);
    for (Instr& in : prog)
      if (in.op == Op::Tmv) in.wbase += base;
    programs_.push_back(std::move(prog));
  }
  const PackedLinear head = w_->bitlinear("lm_head");
  const uint32_t head_base = static_cast<uint32_t>(dram.size() / (kLanes / 4));
  const auto t = head.ternary();
  const auto bytes = pack_weights(t.data(), head.weight().rows, head.weight().cols);
  dram.insert(dram.end(), bytes.begin(), bytes.end());
  head_beats_ = static_cast<int64_t>(bytes.size()) / (kLanes / 4);
  head_program_ = head_program(layout_, c.vocab_size, head.weight_scale(), head_base);
  head_params_ = fixed_vector(w_->floats("model.norm.weight"), to_p24);
  const auto hn = fixed_vector(head.norm(), to_p24);
  head_params_.insert(head_params_.end(), hn.begin(), hn.end());
  core_.set_weights(std::move(dram));
  h_.assign(static_cast<size_t>(L * d), 0);
}

int64_t HwModel::run_block(int64_t l) {
  const int64_t d = layout_.d;
  core_.write_params(0, params_[l]);
  core_.load_program(programs_[l]);
  const auto h0 = h_.begin() + l * d;
  core_.write_vectors(layout_.h(), std::vector<int64_t>(h0, h0 + d));
  const int64_t cycles = core_.run();
  const auto hq = core_.read_vectors(layout_.h(), d);
  std::copy(hq.begin(), hq.end(), h0);
  cycles_ += cycles;
  return cycles;
}

int64_t HwModel::block(int64_t l, std::vector<float>& x) {
  core_.write_vectors(layout_.x(), fixed_vector(x, to_v24));
  const int64_t cycles = run_block(l);
  const auto xq = core_.read_vectors(layout_.x(), layout_.d);
  std::transform(xq.begin(), xq.end(), x.begin(), [](int64_t v) { return static_cast<float>(from_v24(v)); });
  return cycles;
}

std::vector<float> HwModel::step(int64_t token) {
  const ModelConfig& c = config();
  if (token < 0 || token >= c.vocab_size) throw Error("hw: token id " + std::to_string(token) + " is outside the vocabulary");
  std::vector<float> x(static_cast<size_t>(c.hidden_size));
  emb_.row(token, x.data());
  // x stays in the vector memory from block to block and into the head.
  core_.write_vectors(layout_.x(), fixed_vector(x, to_v24));
  for (int64_t l = 0; l < c.num_layers; ++l) run_block(l);
  core_.write_params(0, head_params_);
  core_.load_program(head_program_);
  cycles_ += core_.run();
  const auto lq = core_.read_vectors(layout_.a(), c.vocab_size);
  std::vector<float> logits(lq.size());
  std::transform(lq.begin(), lq.end(), logits.begin(), [](int64_t v) { return static_cast<float>(from_v24(v)); });
  return logits;
}

int64_t HwModel::weight_bytes_per_token() const {
  return (static_cast<int64_t>(layout_.matrix_base(BlockLayout::kMatrices)) * config().num_layers + head_beats_) *
         (kLanes / 4);
}

int64_t HwModel::param_bytes_per_token() const {
  return (layout_.param_words() * config().num_layers + static_cast<int64_t>(head_params_.size())) * 4;
}

RefBlock::RefBlock(const WeightSource& w, int64_t layer)
    : d_(w.config().hidden_size),
      eps_(static_cast<float>(w.config().rms_norm_eps)),
      // The source outlives the block (its caller holds it): a non-owning pointer.
      weights_(be_, std::shared_ptr<const WeightSource>(std::shared_ptr<const void>(), &w)),
      lower_bound_(w.config().use_lower_bound && layer > 0 ? weights_.upload(lower_bounds(w)[layer]) : nullptr),
      attn_norm_(weights_.vector(layer_prefix(layer) + "attn_norm.weight")),
      mlp_norm_(weights_.vector(layer_prefix(layer) + "mlp_norm.weight")),
      o_(static_cast<size_t>(d_)),
      mixer_(weights_, layer, w.config(), lower_bound_),
      mlp_(weights_, layer, w.config()),
      ms_(be_, 1, d_),
      gs_(be_, 1, w.config().intermediate_size) {
  be_.reserve(1, std::max(d_, w.config().intermediate_size));
}

void RefBlock::forward(std::vector<float>& x, std::vector<float>& h) {
  using Kind = BitLinearInput::Kind;
  const int32_t slot = 0;
  mixer_.forward(be_, {.kind = Kind::Norm, .x = x.data(), .ld = d_, .w = attn_norm_.value, .eps = eps_}, 1, 1,
                 StateSlots{h.data(), &slot, d_}, 0, o_.data(), ms_.buffers());
  // x += o, then the GLU on RMSNorm(x) (the Norm input adds the mixer's output to x).
  mlp_.forward(be_, {.kind = Kind::Norm, .x = x.data(), .ld = d_, .add = o_.data(), .w = mlp_norm_.value, .eps = eps_},
               1, o_.data(), gs_.buffers());
  for (int64_t i = 0; i < d_; ++i) x[i] += o_[i];
}

}  // namespace mmfree::hw

#include "model/bitlinear.h"

#include "kernels/elementwise.h"
#include "kernels/ternary_matmul.h"
#include "kernels/ternary_ref.h"
#include "util/error.h"

namespace mmfree {

void BitLinearScratch::reserve(int64_t rows, int64_t max_in) {
  q.resize(static_cast<size_t>(rows * max_in));
  s_x.resize(static_cast<size_t>(rows));
  acts.reserve(rows, max_in);
}

BitLinear::BitLinear(const TensorView& weight, const TensorView& norm) : norm_(norm.to_f32()) {
  const int64_t out = weight.shape.at(0), in = weight.shape.at(1);
  std::vector<int8_t> t(static_cast<size_t>(out * in));
  s_w_ = ternarize_ref(weight.to_f32().data(), out * in, t.data());
  const TernaryFormat f = default_format(in);
  // Cache-line aligned, as in a model file: the kernels' loads then never straddle two lines.
  auto bytes = std::make_shared<AlignedBuffer<uint8_t>>(static_cast<size_t>(format_matrix_bytes(f, out, in)));
  pack_ternary(f, t.data(), out, in, 1.0f / s_w_, bytes->data());
  w_ = TernaryMatrix{f, bytes->data(), out, in};
  owned_ = std::move(bytes);
}

BitLinear::BitLinear(const TernaryMatrix& weight, float s_w, std::vector<float> norm)
    : w_(weight), s_w_(s_w), norm_(std::move(norm)) {
  check(weight.data && weight.rows > 0 && format_fits(weight.format, weight.cols),
        "BitLinear: packed weight has no data or an impossible shape");
  check(static_cast<int64_t>(norm_.size()) == weight.cols, "BitLinear: norm has " + std::to_string(norm_.size()) +
                                                               " values for " + std::to_string(weight.cols) + " inputs");
}

int64_t BitLinear::weight_bytes() const {
  // The kernels read every row's codes (TQ2_0_R8's d values, after them, are never read).
  return w_.rows * w_.row_bytes() + static_cast<int64_t>(norm_.size() * sizeof(float));
}

std::vector<int8_t> BitLinear::ternary() const {
  std::vector<int8_t> t(static_cast<size_t>(w_.rows * w_.cols));
  unpack_ternary(w_, t.data());
  return t;
}

namespace {
void check_scratch(const BitLinearScratch& s, int64_t n, int64_t in) {
  if (static_cast<int64_t>(s.s_x.size()) < n || static_cast<int64_t>(s.q.size()) < n * in)
    throw Error("internal: BitLinear scratch too small");  // built only on failure: no allocation per call
}
}  // namespace

void BitLinear::forward(const float* x, int64_t n, float* y, BitLinearScratch& s, const ComputeContext& c) const {
  const int64_t in = w_.cols, out = w_.rows;
  if (c.reference) {
    check_scratch(s, n, in);
    // The plain path, for tests: unpack, integer product, scale (allocates: not for the decode loop).
    rmsnorm_quantize_ref(x, norm_.data(), n, in, s.q.data(), s.s_x.data());
    const std::vector<int8_t> t = ternary();
    std::vector<int32_t> acc(static_cast<size_t>(n * out));
    ternary_matmul_ref(t.data(), out, in, s.q.data(), n, acc.data());
    for (int64_t r = 0; r < n; ++r) {
      const float denom = s.s_x[r] * s_w_;
      for (int64_t o = 0; o < out; ++o) y[r * out + o] = static_cast<float>(acc[r * out + o]) / denom;
    }
    return;
  }
  const MatmulTask task = prepare(x, n, y, s, c);
  ternary_matmul_batch({&task, 1}, c.pool, c.isa);
  announce_next(n, c);
}

void BitLinear::announce_next(int64_t n, const ComputeContext& c) const {
  if (n == 1 && !c.reference) ternary_prefetch_next(next_, c.pool, c.isa);
}

MatmulTask BitLinear::prepare(const float* x, int64_t n, float* y, BitLinearScratch& s, const ComputeContext& c) const {
  const int64_t in = w_.cols;
  check_scratch(s, n, in);
  rmsnorm_quantize(c.isa, x, norm_.data(), n, in, s.q.data(), s.s_x.data(), c.pool);
  s.prepared = s.acts.prepare(w_.format, s.q.data(), n, in, n > 16 ? c.pool : nullptr);
  return MatmulTask{&w_, &s.prepared, MatmulOutput{nullptr, y, s.s_x.data(), s_w_}};
}

void forward_shared_input(std::span<const BitLinear* const> layers, const float* x, int64_t n, std::span<float* const> ys,
                          std::span<BitLinearScratch* const> scratch, const ComputeContext& c) {
  if (layers.size() != ys.size() || layers.size() != scratch.size() || layers.size() > kMaxMatmulTasks)
    throw Error("internal: forward_shared_input needs one output and one scratch per layer");
  if (c.reference) {
    for (size_t j = 0; j < layers.size(); ++j) layers[j]->forward(x, n, ys[j], *scratch[j], c);
    return;
  }
  MatmulTask tasks[kMaxMatmulTasks];
  for (size_t j = 0; j < layers.size(); ++j) tasks[j] = layers[j]->prepare(x, n, ys[j], *scratch[j], c);
  ternary_matmul_batch({tasks, layers.size()}, c.pool, c.isa);
  layers.back()->announce_next(n, c);
}

}  // namespace mmfree

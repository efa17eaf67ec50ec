#include "backend/ref/ref_backend.h"

#include "kernels/ternary_ref.h"
#include "model/ops.h"
#include "util/error.h"

namespace mmfree {

namespace {
struct RefMatrix : BackendMatrix {
  std::vector<int8_t> codes;  // [rows][cols] in {-1, 0, 1}
};
}  // namespace

std::string RefBackend::description() const { return "ref: the plain formulas of SPEC.md, one thread (the oracle)"; }

std::unique_ptr<BackendMatrix> RefBackend::upload_matrix(const TernaryMatrix& w, float s_w) {
  auto m = std::make_unique<RefMatrix>();
  m->rows = w.rows;
  m->cols = w.cols;
  m->s_w = s_w;
  m->codes.resize(static_cast<size_t>(w.rows * w.cols));
  unpack_ternary(w, m->codes.data());
  return m;
}

void RefBackend::reserve(int64_t rows, int64_t max_cols) {
  HostBackend::reserve(rows, max_cols);
  q_.resize(static_cast<size_t>(reserved_rows() * reserved_cols()));
  s_x_.resize(static_cast<size_t>(reserved_rows()));
}

void RefBackend::rmsnorm(const float* x, int64_t x_ld, const float* w, int64_t n, int64_t k, float eps, float* out) {
  for (int64_t r = 0; r < n; ++r) rmsnorm_rows(x + r * x_ld, w, 1, k, eps, out + r * k);
}

void RefBackend::products(std::span<const BitLinearCall> calls, const float* x, int64_t n) {
  for (const BitLinearCall& c : calls) {
    const auto& m = static_cast<const RefMatrix&>(*c.w);
    if (static_cast<int64_t>(s_x_.size()) < n || static_cast<int64_t>(q_.size()) < n * m.cols)
      throw Error("internal: ref backend scratch too small (reserve)");
    rmsnorm_quantize_ref(x, c.norm, n, m.cols, q_.data(), s_x_.data());
    acc_.resize(static_cast<size_t>(n * m.rows));  // the oracle may allocate: it is not the decode path
    ternary_matmul_ref(m.codes.data(), m.rows, m.cols, q_.data(), n, acc_.data());
    for (int64_t r = 0; r < n; ++r) {
      const float denom = s_x_[r] * m.s_w;
      for (int64_t o = 0; o < m.rows; ++o) c.y[r * m.rows + o] = static_cast<float>(acc_[r * m.rows + o]) / denom;
    }
  }
}

void RefBackend::ternary_product(const BackendMatrix& w, const int8_t* q, int64_t n, int32_t* acc) {
  const auto& m = static_cast<const RefMatrix&>(w);
  ternary_matmul_ref(m.codes.data(), m.rows, m.cols, q, n, acc);
}

void RefBackend::mlgru_scan(const MlgruScan& s) {
  for (int64_t b = 0; b < s.B; ++b) {
    float* h = s.states + s.slots[b] * s.slot_stride;
    for (int64_t t = 0; t < s.T; ++t) {
      const int64_t r = (b * s.T + t) * s.d;
      for (int64_t c = 0; c < s.d; ++c) {
        float f = sigmoidf(s.f_lin[r + c]);
        if (s.lb) f = s.lb[c] + (1.0f - s.lb[c]) * f;
        h[c] = f * h[c] + siluf(s.i[r + c]) * (1.0f - f);
        s.h_out[r + c] = h[c];
      }
    }
  }
}

void RefBackend::silu_mul(const float* a, const float* b, int64_t rows, int64_t cols, int64_t in_ld, float* out,
                          int64_t out_ld) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[r * out_ld + c] = siluf(a[r * in_ld + c]) * b[r * in_ld + c];
}

void RefBackend::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;  // the oracle sums in double
      for (int64_t p = 0; p < k; ++p)
        sum += static_cast<double>(trans_a ? a[p * lda + i] : a[i * lda + p]) * (trans_b ? b[j * ldb + p] : b[p * ldb + j]);
      float& out = c[i * ldc + j];
      out = static_cast<float>(alpha * sum + (beta == 0.0f ? 0.0 : static_cast<double>(beta) * out));
    }
}

void RefBackend::quantize_rows(const float* x, const float* w, int64_t n, int64_t k, float* q, float* s_x) {
  std::vector<int8_t> codes(static_cast<size_t>(n * k));  // the oracle may allocate
  rmsnorm_quantize_ref(x, w, n, k, codes.data(), s_x);
  for (int64_t i = 0; i < n * k; ++i) q[i] = codes[i];
}

int RefBackend::run_parts(int64_t n, int64_t /*min_per_part*/, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n > 0) fn(0, n, 0);
  return 1;
}

}  // namespace mmfree

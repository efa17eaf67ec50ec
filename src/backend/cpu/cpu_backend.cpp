#include "backend/cpu/cpu_backend.h"

#include "kernels/blas.h"
#include "kernels/elementwise.h"
#include "kernels/train_quant.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace mmfree {

struct CpuBackend::CpuMatrix : BackendMatrix {
  CpuMatrix(CpuBackend& be) : owner(&be) { owner->live_.push_back(this); }
  // A hint must never name weights that are gone: a matrix leaving forgets every chain.
  ~CpuMatrix() override {
    std::erase(owner->live_, this);
    owner->forget_chains();
  }
  CpuMatrix(const CpuMatrix&) = delete;
  CpuMatrix& operator=(const CpuMatrix&) = delete;

  CpuBackend* owner;
  TernaryMatrix w;  // the packed bytes where the model file or loader keeps them
  // The matrices of the decode product that followed the group this matrix leads: a hint for the
  // pool's read-ahead, learned by the backend while decoding (never changes a result).
  TernaryMatrix next[kMaxSharedInput];
  int next_count = 0;
};

void CpuBackend::forget_chains() {
  for (CpuMatrix* m : live_) m->next_count = 0;
  last_decode_group_ = nullptr;
}

CpuBackend::CpuBackend(int threads, const std::string& isa) : isa_(isa.empty() ? best_isa() : parse_isa(isa)) {
  check(threads >= 0, "--threads must be at least 1, got " + std::to_string(threads));
  check(isa_available(isa_), std::string("instruction set ") + isa_name(isa_) + " is not available on this CPU");
  pool_ = std::make_unique<ThreadPool>(threads);
  if (pool_->size() > 1) workers_ = pool_.get();
}

CpuBackend::~CpuBackend() = default;

int CpuBackend::threads() const { return pool_->size(); }

std::string CpuBackend::description() const {
  return std::string("cpu: ") + isa_name(isa_) + " kernels, " + std::to_string(threads()) + " threads";
}

std::unique_ptr<BackendMatrix> CpuBackend::upload_matrix(const TernaryMatrix& w, float s_w) {
  auto m = std::make_unique<CpuMatrix>(*this);
  m->rows = w.rows;
  m->cols = w.cols;
  m->s_w = s_w;
  m->w = w;
  return m;
}

void CpuBackend::reserve(int64_t rows, int64_t max_cols) {
  const bool grows = rows > reserved_rows() || max_cols > reserved_cols();
  HostBackend::reserve(rows, max_cols);
  if (!grows) return;
  const int64_t r = reserved_rows(), c = reserved_cols();
  for (CallScratch& s : scratch_) {
    s.q = AlignedBuffer<int8_t>(static_cast<size_t>(r * c));
    s.s_x = AlignedBuffer<float>(static_cast<size_t>(r));
    s.acts.reserve(r, c);
  }
}

void CpuBackend::rmsnorm(const float* x, int64_t x_ld, const float* w, int64_t n, int64_t k, float eps, float* out) {
  if (x_ld == k) return mmfree::rmsnorm(isa_, x, w, n, k, eps, out, workers_);
  for (int64_t r = 0; r < n; ++r) mmfree::rmsnorm(isa_, x + r * x_ld, w, 1, k, eps, out + r * k);
}

void CpuBackend::products(std::span<const BitLinearCall> calls, const float* x, int64_t n) {
  MatmulTask tasks[kMaxSharedInput];
  for (size_t j = 0; j < calls.size(); ++j) {
    const auto& m = static_cast<const CpuMatrix&>(*calls[j].w);
    CallScratch& s = scratch_[j];
    if (n > reserved_rows() || m.cols > reserved_cols()) throw Error("internal: cpu backend scratch too small (reserve)");
    rmsnorm_quantize(isa_, x, calls[j].norm, n, m.cols, s.q.data(), s.s_x.data(), workers_);
    s.prepared = s.acts.prepare(m.w.format, s.q.data(), n, m.cols, n > 16 ? workers_ : nullptr);
    tasks[j] = MatmulTask{&m.w, &s.prepared, MatmulOutput{nullptr, calls[j].y, s.s_x.data(), m.s_w}};
  }
  ternary_matmul_batch({tasks, calls.size()}, workers_, isa_);
  if (n == 1) chain_decode_products(calls);
}

void CpuBackend::ternary_product(const BackendMatrix& w, const int8_t* q, int64_t n, int32_t* acc) {
  const auto& m = static_cast<const CpuMatrix&>(w);
  CallScratch& s = scratch_[0];
  if (n > reserved_rows() || m.cols > reserved_cols()) throw Error("internal: cpu backend scratch too small (reserve)");
  s.prepared = s.acts.prepare(m.w.format, q, n, m.cols, n > 16 ? workers_ : nullptr);
  ternary_matmul(m.w, s.prepared, MatmulOutput{acc}, workers_, isa_);
}

void CpuBackend::chain_decode_products(std::span<const BitLinearCall> calls) {
  // The backend made every matrix it is handed (upload_matrix), so they are CpuMatrix objects it
  // may annotate.
  auto* lead = const_cast<CpuMatrix*>(static_cast<const CpuMatrix*>(calls[0].w));
  if (last_decode_group_) {
    last_decode_group_->next_count = static_cast<int>(calls.size());
    for (size_t j = 0; j < calls.size(); ++j) last_decode_group_->next[j] = static_cast<const CpuMatrix&>(*calls[j].w).w;
  }
  last_decode_group_ = lead;
  if (lead->next_count > 0) ternary_prefetch_next({lead->next, static_cast<size_t>(lead->next_count)}, workers_, isa_);
}

void CpuBackend::mlgru_scan(const MlgruScan& s) {
  for (int64_t b = 0; b < s.B; ++b) {
    float* h = s.states + s.slots[b] * s.slot_stride;
    for (int64_t t = 0; t < s.T; ++t) {
      const int64_t r = (b * s.T + t) * s.d;
      mlgru_step(isa_, s.i + r, s.f_lin + r, s.lb, s.d, h, s.h_out + r);
    }
  }
}

void CpuBackend::silu_mul(const float* a, const float* b, int64_t rows, int64_t cols, int64_t in_ld, float* out,
                          int64_t out_ld) {
  mmfree::silu_mul(isa_, a, b, rows, cols, in_ld, out, out_ld, workers_);
}

void CpuBackend::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  blas::gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, workers_);
}

void CpuBackend::quantize_rows(const float* x, const float* w, int64_t n, int64_t k, float* q, float* s_x) {
  mmfree::run_parts(workers_, n, std::max<int64_t>(1, 16384 / k), [&](int64_t b, int64_t e, int) {
    rmsnorm_quantize_to_float(x + b * k, w, e - b, k, q + b * k, s_x + b);
  });
}

int CpuBackend::run_parts(int64_t n, int64_t min_per_part, const std::function<void(int64_t, int64_t, int)>& fn) {
  return mmfree::run_parts(workers_, n, min_per_part, fn);
}

}  // namespace mmfree

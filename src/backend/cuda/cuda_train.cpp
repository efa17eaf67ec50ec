#include "backend/cuda/cuda_train.h"

#include <algorithm>
#include <climits>
#include <string>

#include "backend/cuda/elementwise.h"
#include "backend/cuda/mma_layout.h"
#include "backend/cuda/ternary_product.h"
#include "backend/cuda/train_kernels.h"
#include "util/error.h"

namespace mmfree::cuda {

namespace {

constexpr float kBitLinearEps = 1e-6f;  // SPEC.md: the fused kernel's default (as host_train.cpp)

void check_blas(cublasStatus_t st, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS) throw Error(std::string("cuda: cublas ") + what + " failed (status " + std::to_string(st) + ")");
}

int blas_dim(int64_t v) {
  if (v < 0 || v > INT_MAX) throw Error("cuda: a training GEMM dimension of " + std::to_string(v) + " exceeds cuBLAS's int");
  return static_cast<int>(v);
}

// A buffer grown to at least `count` elements (its contents dropped).
template <class T>
void grow(DeviceBuffer<T>& b, int64_t count) {
  if (b.size() < count) b = DeviceBuffer<T>(count);
}

}  // namespace

bool is_trainable(const BackendMatrix& w) { return dynamic_cast<const CudaTrainableMatrix*>(&w) != nullptr; }

CudaTrainer::~CudaTrainer() {
  if (blas_) cublasDestroy(blas_);
}

std::unique_ptr<BackendMatrix> CudaTrainer::trainable_matrix(int64_t rows, int64_t cols, bool identity) {
  if (rows <= 0 || cols <= 0 || rows > INT64_MAX / cols) throw Error("cuda: impossible trainable matrix shape");
  auto m = std::make_unique<CudaTrainableMatrix>();
  m->rows = rows;
  m->cols = cols;
  m->identity = identity;
  m->w = DeviceBuffer<float>(rows * cols);
  if (!identity) m->mma = DeviceBuffer<uint8_t>(mma_bytes(rows, cols));
  return m;
}

void CudaTrainer::ternarize(BackendMatrix& w, const float* latent) {
  auto& m = dynamic_cast<CudaTrainableMatrix&>(w);
  const int64_t count = m.rows * m.cols;
  if (m.identity) {
    check(cudaMemcpyAsync(m.w.data(), latent, static_cast<size_t>(count) * 4, cudaMemcpyDeviceToDevice, s_), "copy latent");
    m.s_w = 1;
    return;
  }
  // s_w as ternarize_to_float computes it, from the sum of |W| in double (read back: the products'
  // scaling and the backward's 1 / s_w are host arguments).
  grow(partial_, kReduceParts);
  grow(sum_, 1);
  reduce_into(latent, count, SumOf::Abs, partial_.data(), sum_.data(), s_);
  const float mean = static_cast<float>(read_sum() / static_cast<double>(count));
  m.s_w = 1.0f / std::max(mean, 1e-5f);
  ternary_codes(latent, m.rows, m.cols, m.s_w, m.w.data(), m.mma.data(), s_);
}

void CudaTrainer::reserve_training(int64_t rows, int64_t max_cols) {
  if (rows <= rows_ && max_cols <= cols_) return;
  check(cudaStreamSynchronize(s_), "wait before training scratch grows");  // no queued work may use what is freed
  rows_ = std::max(rows, rows_);
  cols_ = std::max(max_cols, cols_);
  if (rows_ > INT64_MAX / std::max<int64_t>(padded_cols(cols_), 1)) throw Error("cuda: training scratch size overflows");
  q_stride_ = padded_cols(cols_);
  const int64_t size = rows_ * cols_;
  xq_ = DeviceBuffer<float>(size);
  du_ = DeviceBuffer<float>(size);
  m_ = DeviceBuffer<float>(size);
  q_ = DeviceBuffer<int8_t>(rows_ * q_stride_);
  s_x_ = DeviceBuffer<float>(rows_);
  rstd_ = DeviceBuffer<float>(rows_);
  sums_ = DeviceBuffer<int32_t>(rows_);
}

int64_t CudaTrainer::scratch_bytes() const {
  return xq_.bytes() + du_.bytes() + m_.bytes() + q_.bytes() + s_x_.bytes() + rstd_.bytes() + sums_.bytes() +
         partial_.bytes() + sum_.bytes() + nll_.bytes();
}

void CudaTrainer::check_rows(int64_t n, int64_t cols) const {
  if (n > rows_ || cols > cols_) throw Error("internal: cuda backend training scratch too small (reserve_training)");
}

double CudaTrainer::read_sum() {
  double v = 0;
  check(cudaMemcpyAsync(&v, sum_.data(), sizeof v, cudaMemcpyDeviceToHost, s_), "copy a sum from device");
  check(cudaStreamSynchronize(s_), "wait for a sum");
  return v;
}

BitLinearInput CudaTrainer::form_input(const BitLinearInput& in, int64_t cols, int64_t n) {
  using Kind = BitLinearInput::Kind;
  if (in.kind == Kind::Plain && in.ld == cols && !in.keep_m) return in;
  if (in.kind == Kind::Recurrent) throw Error("internal: cuda training forms no Recurrent input (scan first)");
  if (!in.keep_m) check_rows(n, cols);
  float* m = in.keep_m ? in.keep_m : m_.data();
  FormKind kind = FormKind::Plain;
  switch (in.kind) {
    case Kind::Plain: kind = FormKind::Plain; break;
    case Kind::Norm: kind = FormKind::Norm; break;
    case Kind::Gated: kind = FormKind::Gated; break;
    case Kind::Glu: kind = FormKind::Glu; break;
    case Kind::Recurrent: break;
  }
  cuda::form_input(kind, in.x, in.ld, in.add, in.h, in.w, in.eps, n, cols, m, in.kind == Kind::Norm ? in.keep_x : nullptr, s_);
  BitLinearInput out;
  out.kind = Kind::Plain;
  out.x = m;
  out.ld = cols;
  return out;
}

void CudaTrainer::quantize(const float* m, const float* w, int64_t n, int64_t k) {
  const QuantTarget t{w, q_.data(), s_x_.data(), sums_.data()};
  norm_quantize(const_cast<float*>(m), nullptr, k, nullptr, kBitLinearEps, n, k, {&t, 1}, q_stride_, s_);  // m is only read
}

void CudaTrainer::products(std::span<const BitLinearCall> calls, const float* m, int64_t n) {
  for (const BitLinearCall& c : calls) {
    const auto& w = dynamic_cast<const CudaTrainableMatrix&>(*c.w);
    const int64_t k = w.cols;
    check_rows(n, k);
    if (w.identity) {
      rmsnorm_rows(m, c.norm, n, k, kBitLinearEps, xq_.data(), s_);
      gemm(false, true, n, w.rows, k, 1.0f, xq_.data(), k, w.w.data(), k, 0.0f, c.y, w.rows);
      continue;
    }
    // The inference product: exact int32 sums of int8 q and ternary codes, then / (s_x s_w).
    quantize(m, c.norm, n, k);
    const Product p{DeviceTernary{w.mma.data(), w.rows, w.cols},
                    DeviceActivations{q_.data(), q_stride_, sums_.data(), s_x_.data(), n, k},
                    ProductOut{nullptr, c.y, w.rows, w.s_w}};
    ternary_product({&p, 1}, s_);
  }
}

void CudaTrainer::dequantized_input(const float* m, const float* w, int64_t n, int64_t k, bool identity) {
  if (identity) return rmsnorm_rows(m, w, n, k, kBitLinearEps, xq_.data(), s_);
  quantize(m, w, n, k);
  dequantize_rows(q_.data(), q_stride_, s_x_.data(), n, k, xq_.data(), s_);
}

void CudaTrainer::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                       int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (!blas_) {
    check_blas(cublasCreate(&blas_), "create");
    // FP32 throughout: no TF32 (the default math mode never picks it unless NVIDIA_TF32_OVERRIDE says so).
    check_blas(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "set math mode");
  }
  check_blas(cublasSetStream(blas_, s_), "set stream");
  if (m == 0 || n == 0) return;
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, each row-major matrix read as
  // its column-major transpose.
  check_blas(cublasSgemm(blas_, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, blas_dim(n),
                         blas_dim(m), blas_dim(k), &alpha, b, blas_dim(ldb), a, blas_dim(lda), &beta, c, blas_dim(ldc)),
             "sgemm");
}

void CudaTrainer::bitlinear_backward(const BitLinearBackward& b) {
  const auto& w = dynamic_cast<const CudaTrainableMatrix&>(*b.w);
  const int64_t k = w.cols, out = w.rows;
  check_rows(b.n, k);
  dequantized_input(b.m, b.norm, b.n, k, w.identity);
  gemm(true, false, out, k, b.n, 1.0f, b.dy, out, xq_.data(), k, 1.0f, b.dw, k);
  gemm(false, false, b.n, k, out, 1.0f / w.s_w, b.dy, out, w.w.data(), k, 0.0f, du_.data(), k);
  rmsnorm_backward(b.m, b.norm, du_.data(), b.n, k, kBitLinearEps, b.dm, b.accumulate, b.dnorm);
}

void CudaTrainer::rmsnorm_backward(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps,
                                   float* dx, bool accumulate, float* dw) {
  check_rows(n, 0);
  cuda::rmsnorm_backward(x, w, dy, n, k, eps, dx, accumulate, dw, rstd_.data(), s_);
}

void CudaTrainer::gated_backward(const GatedBackward& g) {
  check_rows(g.n, g.d);
  gated_split(g.h, g.g, g.w, g.dm, g.n, g.d, g.eps, xq_.data(), du_.data(), g.dh, s_);
  rmsnorm_backward(g.g, g.w, du_.data(), g.n, g.d, g.eps, g.dg, false, g.dw);
}

void CudaTrainer::glu_backward(const float* gv, const float* dm, int64_t n, int64_t I, float* dgv) {
  cuda::glu_backward(gv, dm, n, I, dgv, s_);
}

void CudaTrainer::mlgru_scan_backward(const MlgruScanBackward& b) {
  cuda::mlgru_scan_backward(b.i, b.f_lin, b.h, b.lb, b.dh, b.B, b.T, b.d, b.di, b.df_lin, b.dlb, s_);
}

void CudaTrainer::embed_backward(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable) {
  cuda::embed_backward(tokens, dx, n, d, dtable, s_);
}

double CudaTrainer::cross_entropy(float* logits, const int32_t* labels, int64_t n, int64_t V, float coef) {
  if (n <= 0) return 0;
  grow(nll_, n);
  grow(partial_, kReduceParts);
  grow(sum_, 1);
  cross_entropy_rows(logits, labels, n, V, coef, nll_.data(), s_);
  reduce_into(nll_.data(), n, SumOf::Doubles, partial_.data(), sum_.data(), s_);
  return read_sum();
}

void CudaTrainer::adamw(const AdamWUpdate& u) {
  cuda::adamw(AdamWArgs{u.p, u.g, u.m, u.v, u.n, u.decay, u.step_size, u.bc2_sqrt, u.one_minus_b1, u.b2, u.one_minus_b2, u.eps},
              s_);
}

double CudaTrainer::sum_squares(const float* x, int64_t n) {
  if (n <= 0) return 0;
  grow(partial_, kReduceParts);
  grow(sum_, 1);
  reduce_into(x, n, SumOf::Squares, partial_.data(), sum_.data(), s_);
  return read_sum();
}

void CudaTrainer::scale(float* x, int64_t n, float c) { cuda::scale(x, n, c, s_); }

}  // namespace mmfree::cuda

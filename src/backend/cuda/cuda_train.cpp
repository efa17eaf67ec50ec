#include "backend/cuda/cuda_train.h"

#include <algorithm>
#include <climits>
#include <string>

#include "backend/cuda/cublas_library.h"
#include "backend/cuda/elementwise.h"
#include "backend/cuda/mma_layout.h"
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

}  // namespace

bool is_trainable(const BackendMatrix& w) { return dynamic_cast<const CudaTrainableMatrix*>(&w) != nullptr; }

CudaTrainer::~CudaTrainer() {
  if (blas_) cublas_library().destroy(blas_);
}

std::unique_ptr<BackendMatrix> CudaTrainer::trainable_matrix(int64_t rows, int64_t cols, bool identity) {
  if (rows <= 0 || cols <= 0 || rows > INT64_MAX / cols) throw Error("cuda: impossible trainable matrix shape");
  auto m = std::make_unique<CudaTrainableMatrix>();
  m->rows = rows;
  m->cols = cols;
  m->identity = identity;
  if (identity)
    m->w = DeviceBuffer<float>(rows * cols);
  else
    m->mma = DeviceBuffer<uint8_t>(mma_bytes(rows, cols));
  // A slot in the table of scales, which grows (keeping the scales it holds) as matrices are made.
  m->scale_index = matrices_++;
  m->version = ++ternarized_;  // never that of a freed matrix at the same address
  if (scales_.size() < matrices_) {
    const int64_t cap = std::max<int64_t>(64, 2 * matrices_);
    DeviceBuffer<float> scales(cap);
    DeviceBuffer<double> sums(cap);
    check(cudaMemsetAsync(scales.data(), 0, static_cast<size_t>(scales.bytes()), s_), "clear scales");
    if (scales_.size() > 0)
      check(cudaMemcpyAsync(scales.data(), scales_.data(), static_cast<size_t>(scales_.bytes()), cudaMemcpyDeviceToDevice, s_),
            "copy scales");
    check(cudaStreamSynchronize(s_), "wait before the scale table grows");
    scales_ = std::move(scales);
    scale_sums_ = std::move(sums);
    host_scales_.resize(static_cast<size_t>(cap), 0.0f);
  }
  return m;
}

void CudaTrainer::ternarize(BackendMatrix& w, const float* latent) {
  auto& m = dynamic_cast<CudaTrainableMatrix&>(w);
  const int64_t count = m.rows * m.cols;
  float* scale = scales_.data() + m.scale_index;
  scales_stale_ = true;
  m.version = ++ternarized_;  // unique across matrices: a new matrix at a freed one's address never matches
  if (m.identity) {
    check(cudaMemcpyAsync(m.w.data(), latent, static_cast<size_t>(count) * 4, cudaMemcpyDeviceToDevice, s_), "copy latent");
    static const float one = 1.0f;
    check(cudaMemcpyAsync(scale, &one, sizeof one, cudaMemcpyHostToDevice, s_), "set an identity scale");
    return;
  }
  // s_w as ternarize_to_float computes it, from the sum of |W| in double, on the device: the host
  // reads all scales at once when a product or a backward first needs one.
  grow(partial_, kReduceParts);
  reduce_into(latent, count, SumOf::Abs, partial_.data(), scale_sums_.data() + m.scale_index, s_);
  scale_from_abs_sum(scale_sums_.data() + m.scale_index, count, scale, s_);
  ternary_codes(latent, m.rows, m.cols, scale, m.mma.data(), s_);
}

float CudaTrainer::s_w(const CudaTrainableMatrix& m) {
  if (scales_stale_) {
    check(cudaMemcpyAsync(host_scales_.data(), scales_.data(), static_cast<size_t>(matrices_) * sizeof(float),
                          cudaMemcpyDeviceToHost, s_),
          "copy the scales from device");
    check(cudaStreamSynchronize(s_), "wait for the scales");
    scales_stale_ = false;
  }
  return host_scales_[static_cast<size_t>(m.scale_index)];
}

void CudaTrainer::reserve_training(int64_t rows, int64_t max_cols) {
  if (rows <= rows_ && max_cols <= cols_) return;
  check(cudaStreamSynchronize(s_), "wait before training scratch grows");  // no queued work may use what is freed
  rows_ = std::max(rows, rows_);
  cols_ = std::max(max_cols, cols_);
  if (rows_ > INT64_MAX / std::max<int64_t>(padded_cols(cols_), 1)) throw Error("cuda: training scratch size overflows");
  const int64_t size = rows_ * cols_;
  du_ = DeviceBuffer<float>(size);
  if (gemm_ == BackwardGemm::Bf16) {
    xq16_ = DeviceBuffer<__nv_bfloat16>(size);  // the bf16 backward's quantising pass writes no codes or sums
  } else {
    xq_ = DeviceBuffer<float>(size);
    q_ = DeviceBuffer<int8_t>(rows_ * padded_cols(cols_));
    sums_ = DeviceBuffer<int32_t>(rows_);
  }
  s_x_ = DeviceBuffer<float>(rows_);
  rstd_ = DeviceBuffer<float>(rows_);
  parts_ = DeviceBuffer<float>(row_parts(rows_) * cols_);
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
  if (!in.keep_m) {
    check_rows(n, cols);
    grow(m_, n * cols);
  }
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

void CudaTrainer::quantize(const float* m, const float* w, int64_t n, int64_t k, __nv_bfloat16* dequantized) {
  // The bf16 backward reads only q / s_x in bf16: the pass then writes no codes or sums.
  const QuantTarget t = dequantized ? QuantTarget{w, nullptr, s_x_.data(), nullptr, dequantized}
                                    : QuantTarget{w, q_.data(), s_x_.data(), sums_.data(), nullptr};
  norm_quantize(const_cast<float*>(m), nullptr, k, nullptr, kBitLinearEps, n, k, {&t, 1}, padded_cols(k), s_);  // m is only read
}

void CudaTrainer::identity_products(std::span<const BitLinearCall> calls, const float* m, int64_t n) {
  for (const BitLinearCall& c : calls) {
    const auto& w = dynamic_cast<const CudaTrainableMatrix&>(*c.w);
    if (!w.identity) throw Error("internal: identity_products of a ternary matrix");
    const int64_t k = w.cols;
    check_rows(n, k);
    grow(xq_, n * k);
    rmsnorm_rows(m, c.norm, n, k, kBitLinearEps, xq_.data(), s_);
    gemm(false, true, n, w.rows, k, 1.0f, xq_.data(), k, w.w.data(), k, 0.0f, c.y, w.rows, CUDA_R_32F);
  }
}

void CudaTrainer::dequantized_input(const float* m, const float* w, int64_t n, int64_t k, bool identity, bool bf16) {
  if (identity) {
    grow(xq_, n * k);
    return rmsnorm_rows(m, w, n, k, kBitLinearEps, xq_.data(), s_);
  }
  if (bf16) return quantize(m, w, n, k, xq16_.data());  // q / s_x in bf16 from the quantising pass itself
  quantize(m, w, n, k);
  dequantize_rows(q_.data(), padded_cols(k), s_x_.data(), n, k, xq_.data(), s_);
}

void CudaTrainer::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const void* a,
                       int64_t lda, const void* b, int64_t ldb, float beta, float* c, int64_t ldc, cudaDataType ab) {
  if (!blas_) {
    check_blas(cublas_library().create(&blas_), "create");
    // FP32 GEMMs stay FP32: the default math mode never picks TF32 unless NVIDIA_TF32_OVERRIDE says so.
    check_blas(cublas_library().set_math_mode(blas_, CUBLAS_DEFAULT_MATH), "set math mode");
    // Our own workspace (what cuBLAS suggests for Hopper), so that the peak device memory counts it.
    blas_workspace_ = DeviceBuffer<uint8_t>(int64_t{32} << 20);
    check_blas(cublas_library().set_workspace(blas_, blas_workspace_.data(), static_cast<size_t>(blas_workspace_.bytes())),
               "set workspace");
  }
  check_blas(cublas_library().set_stream(blas_, s_), "set stream");
  if (m == 0 || n == 0) return;
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, each row-major matrix read as
  // its column-major transpose.
  check_blas(cublas_library().gemm_ex(blas_, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, blas_dim(n),
                          blas_dim(m), blas_dim(k), &alpha, b, ab, blas_dim(ldb), a, ab, blas_dim(lda), &beta, c, CUDA_R_32F,
                          blas_dim(ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             "gemm");
}

void CudaTrainer::bitlinear_backward(const BitLinearBackward& b) {
  products_backward(b, du_.data());
  rmsnorm_backward(b.m, b.norm, du_.data(), b.n, b.w->cols, kBitLinearEps, b.dm, b.accumulate, b.dnorm);
}

void CudaTrainer::bitlinear_backwards(std::span<const BitLinearBackward> calls) {
  bool shared = calls.size() > 1 && calls.size() <= 3;
  for (size_t j = 0; shared && j < calls.size(); ++j) {
    const BitLinearBackward& c = calls[j];
    shared = c.m == calls[0].m && c.n == calls[0].n && c.dm == calls[0].dm && c.w->cols == calls[0].w->cols &&
             (j == 0 || c.accumulate) && !dynamic_cast<const CudaTrainableMatrix&>(*c.w).identity;
  }
  if (!shared) {
    for (const BitLinearBackward& c : calls) bitlinear_backward(c);
    return;
  }
  // Each call's du kept (in du_ as far as it holds them), then one pass over m for every RMSNorm
  // backward: m read once and dm written once instead of once a call.
  const int64_t n = calls[0].n, k = calls[0].w->cols, per = n * k;
  check_rows(n, k);
  const auto count = static_cast<int64_t>(calls.size());
  const int64_t in_du = std::min(count, du_.size() / per);
  if (count > in_du) grow(du_more_, (count - in_du) * per);
  NormBackward norms[3];
  for (int64_t j = 0; j < count; ++j) {
    float* du = j < in_du ? du_.data() + j * per : du_more_.data() + (j - in_du) * per;
    products_backward(calls[j], du);
    norms[j] = {calls[j].norm, du, calls[j].dnorm};
  }
  grow(parts_, count * row_parts(n) * k);
  rmsnorm_backward_group(calls[0].m, {norms, static_cast<size_t>(count)}, n, k, kBitLinearEps, calls[0].dm,
                         calls[0].accumulate, rstd_.data(), parts_.data(), s_);
}

void CudaTrainer::products_backward(const BitLinearBackward& b, float* du) {
  const auto& w = dynamic_cast<const CudaTrainableMatrix&>(*b.w);
  const int64_t k = w.cols, out = w.rows;
  check_rows(b.n, k);
  check_glu(b);
  const float inv_s_w = 1.0f / s_w(w);
  if (!w.identity && gemm_ == BackwardGemm::Bf16) {
    // bf16 operands: the codes and q are exact, dy and q / s_x rounded once; sums in float.
    const auto* xq = static_cast<const __nv_bfloat16*>(b.xq);  // as the forward's quantising pass kept it
    if (!xq) {
      dequantized_input(b.m, b.norm, b.n, k, false, true);
      xq = xq16_.data();
    }
    const auto* dy16 = reinterpret_cast<const __nv_bfloat16*>(b.dy);  // dy_formed: as its producer wrote it
    if (!b.dy_formed) {
      grow(dy16_, b.n * out);
      dy16 = dy16_.data();
      if (b.glu)  // the GLU's gradient rounded to bf16 as it is formed: no float copy, no conversion pass
        cuda::glu_backward(b.glu->gv, b.glu->dz, b.n, b.glu->I, dy16_.data(), s_);
      else
        to_bf16(b.dy, b.n * out, dy16_.data(), s_);
    }
    if (codes16_of_ != &w || codes16_version_ != w.version) {  // the LM head's chunks share one matrix
      grow(codes16_, out * k);
      codes_from_mma(w.mma.data(), out, k, codes16_.data(), s_);
      codes16_of_ = &w;
      codes16_version_ = w.version;
    }
    gemm(true, false, out, k, b.n, 1.0f, dy16, out, xq, k, 1.0f, b.dw, k, CUDA_R_16BF);
    gemm(false, false, b.n, k, out, inv_s_w, dy16, out, codes16_.data(), k, 0.0f, du, k, CUDA_R_16BF);
  } else {
    // A formed dy is floats here (no operand form offered), except for an identity matrix under bf16 GEMMs.
    if (b.dy_formed && gemm_ == BackwardGemm::Bf16) throw Error("internal: a bf16 dy for an identity matrix");
    const float* dy = b.dy;
    if (b.glu) {
      glu_backward(b.glu->gv, b.glu->dz, b.n, b.glu->I, b.glu->dgv);
      dy = b.glu->dgv;
    }
    dequantized_input(b.m, b.norm, b.n, k, w.identity, false);
    const float* weights = w.w.data();
    if (!w.identity) {
      grow(codes_, out * k);
      codes_from_mma(w.mma.data(), out, k, codes_.data(), s_);
      weights = codes_.data();
    }
    gemm(true, false, out, k, b.n, 1.0f, dy, out, xq_.data(), k, 1.0f, b.dw, k, CUDA_R_32F);
    gemm(false, false, b.n, k, out, inv_s_w, dy, out, weights, k, 0.0f, du, k, CUDA_R_32F);
  }
}

void CudaTrainer::rmsnorm_backward(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps,
                                   float* dx, bool accumulate, float* dw) {
  check_rows(n, k);
  cuda::rmsnorm_backward(x, w, dy, n, k, eps, dx, accumulate, dw, rstd_.data(), parts_.data(), s_);
}

void CudaTrainer::gated_backward(const GatedBackward& g) {
  check_rows(g.n, g.d);
  const GatedScratch sc{du_.data(), rstd_.data(), parts_.data()};
  if (g.formed && gemm_ == BackwardGemm::Bf16)  // dg only g_proj's backward GEMMs read
    cuda::gated_backward(g.h, g.g, g.w, g.dm, g.n, g.d, g.eps, g.dh, reinterpret_cast<__nv_bfloat16*>(g.dg), g.dw, sc, s_);
  else
    cuda::gated_backward(g.h, g.g, g.w, g.dm, g.n, g.d, g.eps, g.dh, g.dg, g.dw, sc, s_);
}

void CudaTrainer::glu_backward(const float* gv, const float* dm, int64_t n, int64_t I, float* dgv) {
  cuda::glu_backward<float>(gv, dm, n, I, dgv, s_);
}

void CudaTrainer::mlgru_scan_backward(const MlgruScanBackward& b) {
  const int64_t per = b.B * scan_chunks(b.T) * b.d;
  grow(scan_, 3 * per);
  float* sc = scan_.data();
  const ScanScratch scratch{sc, sc + per, sc + 2 * per};
  if (b.formed && gemm_ == BackwardGemm::Bf16)  // di, df_lin only i_proj's and f_proj's backward GEMMs read
    cuda::mlgru_scan_backward(b.i, b.f_lin, b.h, b.lb, b.dh, b.B, b.T, b.d, reinterpret_cast<__nv_bfloat16*>(b.di),
                              reinterpret_cast<__nv_bfloat16*>(b.df_lin), b.dlb, scratch, s_);
  else
    cuda::mlgru_scan_backward(b.i, b.f_lin, b.h, b.lb, b.dh, b.B, b.T, b.d, b.di, b.df_lin, b.dlb, scratch, s_);
}

void CudaTrainer::embed_backward(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable) {
  const auto sort_bytes = static_cast<int64_t>(embed_sort_bytes(n));
  grow(embed_rows_, 3 * n);
  grow(sort_temp_, sort_bytes);
  int32_t* r = embed_rows_.data();
  cuda::embed_backward(tokens, dx, n, d, dtable, {r, r + n, r + 2 * n, sort_temp_.data(), static_cast<size_t>(sort_bytes)}, s_);
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
  cuda::adamw(AdamWArgs{u.p, u.g, u.m, u.v, u.n, u.decay, u.step_size, u.bc2_sqrt, u.one_minus_b1, u.b2, u.one_minus_b2, u.eps, u.grad_scale},
              s_);
}

double CudaTrainer::sum_squares(const float* x, int64_t n) {
  if (n <= 0) return 0;
  grow(partial_, kReduceParts);
  grow(sum_, 1);
  reduce_into(x, n, SumOf::Squares, partial_.data(), sum_.data(), s_);
  return read_sum();
}

}  // namespace mmfree::cuda

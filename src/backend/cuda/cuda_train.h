#pragma once
// The CUDA backend's training ops (backend.h, "Training"), behind CudaBackend's overrides: trainable
// matrices ternarised on the device, their forward products, and the backward ops. The ternary
// forward is the inference path's int8 tensor-core product (exact integer sums, then / (s_x s_w));
// identity matrices and the backward GEMMs go through cuBLAS in FP32 (no TF32: the tests' bounds
// are set for float sums). The element-wise kernels are train_kernels.h's.
#include <cublas_v2.h>

#include <memory>
#include <span>

#include "backend/backend.h"
#include "backend/cuda/runtime.h"

namespace mmfree::cuda {

// A matrix made by trainable_matrix(): its weights as floats [rows][cols] (ternary codes, or the
// latent weights for identity quantisers) for the backward, and the codes in the mma16 layout for
// the forward (ternary only).
struct CudaTrainableMatrix : BackendMatrix {
  bool identity = false;
  DeviceBuffer<float> w;
  DeviceBuffer<uint8_t> mma;
};
bool is_trainable(const BackendMatrix& w);

class CudaTrainer {
 public:
  explicit CudaTrainer(cudaStream_t s) : s_(s) {}
  CudaTrainer(const CudaTrainer&) = delete;
  CudaTrainer& operator=(const CudaTrainer&) = delete;
  ~CudaTrainer();

  std::unique_ptr<BackendMatrix> trainable_matrix(int64_t rows, int64_t cols, bool identity);
  void ternarize(BackendMatrix& w, const float* latent);
  void reserve_training(int64_t rows, int64_t max_cols);
  // The group's input formed on its own (keep_m / keep_x written when set), as a Plain input of
  // dense rows: in itself when it already is one. Not for Recurrent inputs.
  BitLinearInput form_input(const BitLinearInput& in, int64_t cols, int64_t n);
  // The products of trainable matrices on m [n][cols] (dense).
  void products(std::span<const BitLinearCall> calls, const float* m, int64_t n);

  void bitlinear_backward(const BitLinearBackward& b);
  void rmsnorm_backward(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps, float* dx,
                        bool accumulate, float* dw);
  void gated_backward(const GatedBackward& b);
  void glu_backward(const float* gv, const float* dm, int64_t n, int64_t I, float* dgv);
  void mlgru_scan_backward(const MlgruScanBackward& b);
  void embed_backward(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable);
  double cross_entropy(float* logits, const int32_t* labels, int64_t n, int64_t V, float coef);
  void adamw(const AdamWUpdate& u);
  double sum_squares(const float* x, int64_t n);
  void scale(float* x, int64_t n, float c);

  // Device bytes held by the training scratch (the backend's peak counts them).
  int64_t scratch_bytes() const;

 private:
  // Row-major C[m][n] = alpha op(A) op(B) + beta C (HostBackend::gemm's contract), FP32 cuBLAS.
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
            const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
  // xq_ [n][k]: q / s_x of m as the straight-through estimator sees it, or RMSNorm(m) * w (identity).
  void dequantized_input(const float* m, const float* w, int64_t n, int64_t k, bool identity);
  // q_, s_x_, sums_: rmsnorm_quantize_ref of m with norm w.
  void quantize(const float* m, const float* w, int64_t n, int64_t k);
  void check_rows(int64_t n, int64_t cols) const;
  // Waits for the stream and returns the double the reduction left in sum_.
  double read_sum();

  cudaStream_t s_;
  cublasHandle_t blas_ = nullptr;  // made at the first GEMM
  int64_t rows_ = 0, cols_ = 0, q_stride_ = 0;
  DeviceBuffer<float> xq_, du_, m_, s_x_, rstd_;
  DeviceBuffer<int8_t> q_;
  DeviceBuffer<int32_t> sums_;
  DeviceBuffer<double> partial_, sum_, nll_;
};

}  // namespace mmfree::cuda

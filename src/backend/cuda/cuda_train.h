#pragma once
// The CUDA backend's training ops (backend.h, "Training"), behind CudaBackend's overrides: trainable
// matrices ternarised on the device, their forward products, and the backward ops. The ternary
// forward is the inference path's int8 tensor-core product (exact integer sums, then / (s_x s_w)).
// The backward GEMMs go through cuBLAS, in one of two precisions (BackwardGemm): bf16 operands with
// float accumulation (the default: the ternary codes and the int8 activations are exact in bf16,
// only the incoming gradient and 1 / s_x are rounded), or FP32 throughout (no TF32), the precision
// of the host backends that the tests' tightest bounds are set for. Identity matrices always run in
// FP32. A step waits for the device once, for the scales s_w of all matrices ternarised since the
// last wait. The element-wise kernels are train_kernels.h's.
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include <vector>

#include <memory>
#include <span>

#include "backend/backend.h"
#include "backend/cuda/runtime.h"

namespace mmfree::cuda {

enum class BackwardGemm { Bf16, Fp32 };

// A matrix made by trainable_matrix(): its ternary codes in the mma16 layout (2 bits a weight; the
// backward forms them as a bf16 or float matrix when it needs them), or the latent floats for
// identity quantisers, and where its s_w lives.
struct CudaTrainableMatrix : BackendMatrix {
  bool identity = false;
  DeviceBuffer<float> w;      // identity: [rows][cols]
  DeviceBuffer<uint8_t> mma;  // ternary
  int64_t scale_index = 0;  // in the trainer's table of scales
  uint64_t version = 0;     // which ternarize() made its codes (the trainer's count): what a cached copy holds
};
bool is_trainable(const BackendMatrix& w);

class CudaTrainer {
 public:
  CudaTrainer(cudaStream_t s, BackwardGemm gemm) : s_(s), gemm_(gemm) {}
  CudaTrainer(const CudaTrainer&) = delete;
  CudaTrainer& operator=(const CudaTrainer&) = delete;
  ~CudaTrainer();

  std::unique_ptr<BackendMatrix> trainable_matrix(int64_t rows, int64_t cols, bool identity);
  void ternarize(BackendMatrix& w, const float* latent);
  // The matrix's s_w (after one wait for all the scales ternarised since the last).
  float s_w(const CudaTrainableMatrix& m);
  void reserve_training(int64_t rows, int64_t max_cols);
  // The group's input formed on its own (keep_m / keep_x written when set), as a Plain input of
  // dense rows: in itself when it already is one. Not for Recurrent inputs.
  BitLinearInput form_input(const BitLinearInput& in, int64_t cols, int64_t n);
  // The products of identity matrices on m [n][cols] (dense): RMSNorm, then a float GEMM. (Ternary
  // trainable matrices take the inference path's quantising pass and int8 products.)
  void identity_products(std::span<const BitLinearCall> calls, const float* m, int64_t n);

  void bitlinear_backward(const BitLinearBackward& b);
  void bitlinear_backwards(std::span<const BitLinearBackward> calls);
  // Backend::backward_operand_bytes: the bf16 GEMMs' q / s_x rows (none for FP32 GEMMs).
  int64_t operand_bytes(int64_t n, int64_t cols) const { return gemm_ == BackwardGemm::Bf16 ? n * cols * 2 : 0; }
  void rmsnorm_backward(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps, float* dx,
                        bool accumulate, float* dw);
  void gated_backward(const GatedBackward& b);
  void glu_backward(const float* gv, const float* dm, int64_t n, int64_t I, float* dgv);
  void mlgru_scan_backward(const MlgruScanBackward& b);
  void embed_backward(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable);
  double cross_entropy(float* logits, const int32_t* labels, int64_t n, int64_t V, float coef);
  void adamw(const AdamWUpdate& u);
  double sum_squares(const float* x, int64_t n);


 private:
  // Row-major C[m][n] = alpha op(A) op(B) + beta C (HostBackend::gemm's contract): A and B floats
  // (FP32) or bf16 (float accumulation), C floats.
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const void* a, int64_t lda,
            const void* b, int64_t ldb, float beta, float* c, int64_t ldc, cudaDataType ab);
  // The straight-through estimator's view of m [n][k], the product's input: q / s_x as floats
  // in xq_ or bf16 in xq16_, or RMSNorm(m) * w in xq_ (identity).
  void dequantized_input(const float* m, const float* w, int64_t n, int64_t k, bool identity, bool bf16);
  // bitlinear_backward less its RMSNorm backward: dw += and du [n][cols] written.
  void products_backward(const BitLinearBackward& b, float* du);
  // rmsnorm_quantize_ref of m with norm w: s_x_ and either q / s_x in bf16 (dequantized; no codes or
  // sums written) or q_ and sums_ (FP32 GEMMs).
  void quantize(const float* m, const float* w, int64_t n, int64_t k, __nv_bfloat16* dequantized = nullptr);
  void check_rows(int64_t n, int64_t cols) const;
  // Waits for the stream and returns the double the reduction left in sum_.
  double read_sum();

  cudaStream_t s_;
  BackwardGemm gemm_;
  cublasHandle_t blas_ = nullptr;  // made at the first GEMM
  DeviceBuffer<uint8_t> blas_workspace_;
  int64_t rows_ = 0, cols_ = 0;
  // Scratch sized by reserve_training, or grown at first use (each once per shape).
  DeviceBuffer<float> xq_, du_, m_, s_x_, rstd_, parts_, scan_;
  DeviceBuffer<float> du_more_;  // bitlinear_backwards: the calls' du that du_ does not hold
  DeviceBuffer<__nv_bfloat16> xq16_, dy16_, codes16_;
  // Whose codes codes16_ holds (the LM head's chunks run one backward each on the same matrix).
  const CudaTrainableMatrix* codes16_of_ = nullptr;
  uint64_t codes16_version_ = 0, ternarized_ = 0;
  DeviceBuffer<float> codes_;  // a matrix's codes for the FP32 backward
  DeviceBuffer<int8_t> q_;
  DeviceBuffer<int32_t> sums_, embed_rows_;
  DeviceBuffer<uint8_t> sort_temp_;
  DeviceBuffer<double> partial_, sum_, nll_;
  // The scales s_w of every trainable matrix: computed on the device, read back once when stale.
  DeviceBuffer<float> scales_;
  DeviceBuffer<double> scale_sums_;
  std::vector<float> host_scales_;
  int64_t matrices_ = 0;
  bool scales_stale_ = false;
};

}  // namespace mmfree::cuda

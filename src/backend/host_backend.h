#pragma once
// What the backends that compute in host memory (ref, cpu) share: memory from the heap, 64-byte
// aligned and zeroed; the embedding table read in place; plain copies; a BitLinear group's input
// formed by separate element-wise passes (which each backend provides) before its products; and
// training: float products on trainable matrices and the backward ops, written once here on three
// primitives each backend provides (a float GEMM, the quantisation of a product's input, and how
// rows are split over threads), so that ref and cpu differ only in those.
#include <functional>
#include <vector>

#include "backend/backend.h"

namespace mmfree {

// A matrix of a host backend made by trainable_matrix(): its weights as floats ([rows][cols] ternary
// codes, or the latent weights themselves for identity quantisers), re-derived by ternarize().
struct HostTrainableMatrix : BackendMatrix {
  bool identity = false;
  std::vector<float> w;
};
bool is_trainable(const BackendMatrix& w);

class HostBackend : public Backend {
 public:
  bool host_memory() const override { return true; }
  double read_bandwidth_gbs(int64_t bytes) override;
  Buffer alloc(int64_t bytes) override;
  void free(void* data) noexcept override;
  void write(void* dst, const void* host, int64_t bytes) override;
  void read(void* host, const void* src, int64_t bytes) override;
  void fill_zero(void* dst, int64_t bytes) override;
  void copy(void* dst, const void* src, int64_t bytes) override;
  std::unique_ptr<BackendEmbeddings> upload_embeddings(const EmbeddingTable& table) override;
  void embed(const BackendEmbeddings& table, const int32_t* tokens, int64_t n, float* x) override;
  void reserve(int64_t rows, int64_t max_cols) override;
  void bitlinear(std::span<const BitLinearCall> calls, const BitLinearInput& in, int64_t n) final;

  std::unique_ptr<BackendMatrix> trainable_matrix(int64_t rows, int64_t cols, bool identity) override;
  void ternarize(BackendMatrix& w, const float* latent) override;
  void reserve_training(int64_t rows, int64_t max_cols) override;
  // The products' q / s_x as floats (what dequantized_input forms).
  int64_t backward_operand_bytes(int64_t n, int64_t cols) const override { return n * cols * static_cast<int64_t>(sizeof(float)); }
  void form_input(const BitLinearInput& in, int64_t n, int64_t cols) override;
  std::unique_ptr<BackendEmbeddings> float_embeddings(const float* table, int64_t rows, int64_t cols) override;
  void bitlinear_backward(const BitLinearBackward& b) override;
  void rmsnorm_backward(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps, float* dx,
                        bool accumulate, float* dw) override;
  void gated_backward(const GatedBackward& b) override;
  void glu_backward(const float* gv, const float* dm, int64_t n, int64_t I, float* dgv) override;
  void mlgru_scan_backward(const MlgruScanBackward& b) override;
  void embed_backward(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable) override;
  double cross_entropy(float* logits, const int32_t* labels, int64_t n, int64_t V, float coef) override;
  void adamw(const AdamWUpdate& u) override;
  double sum_squares(const float* x, int64_t n) override;

 protected:
  // The products of calls on m [n][cols] (dense rows).
  virtual void products(std::span<const BitLinearCall> calls, const float* m, int64_t n) = 0;
  // out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w for n rows of k, x rows x_ld apart, out dense.
  virtual void rmsnorm(const float* x, int64_t x_ld, const float* w, int64_t n, int64_t k, float eps, float* out) = 0;
  // out[r][c] = silu(a[r][c]) * b[r][c], c < cols; a, b rows in_ld apart, out rows out_ld apart
  // (out may alias b).
  virtual void silu_mul(const float* a, const float* b, int64_t rows, int64_t cols, int64_t in_ld, float* out,
                        int64_t out_ld) = 0;

  // Training primitives. C[m][n] = alpha op(A) op(B) + beta C, row-major, op(X) = X^T when the flag
  // is set, op(A) [m][k], op(B) [k][n]; lda/ldb/ldc the row strides as stored.
  virtual void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) = 0;
  // q [n][k] = the int8 codes of the quantised RMSNorm(x) * w (SPEC.md) as floats, s_x [n] their
  // scales (bit for bit rmsnorm_quantize_ref).
  virtual void quantize_rows(const float* x, const float* w, int64_t n, int64_t k, float* q, float* s_x) = 0;
  // Splits [0, n) into at most max_parts() contiguous parts of at least min_per_part items (fixed by
  // n, so that per-part partial sums reduced in part order are deterministic) and runs fn(begin,
  // end, part) on each; returns the number of parts.
  virtual int run_parts(int64_t n, int64_t min_per_part, const std::function<void(int64_t, int64_t, int)>& fn) = 0;
  virtual int max_parts() const = 0;

 private:
  // The group's input as dense rows: x itself, or m_ (or in.keep_m) filled.
  const float* formed_input(const BitLinearInput& in, int64_t n, int64_t cols);
  virtual int probe_threads() const { return 1; }
  std::vector<float> m_;  // [rows][max_cols], sized by reserve()
  int64_t rows_ = 0, cols_ = 0;
  // The float products of trainable matrices.
  void train_products(std::span<const BitLinearCall> calls, const float* m, int64_t n);
  // xq [n][k]: q / s_x of m (the product's input as the straight-through estimator sees it), or
  // RMSNorm(m) * w for identity quantisers.
  void dequantized_input(const float* m, const float* w, int64_t n, int64_t k, bool identity);
  // out [n][k] = xq_ / s_x_ row by row (xq_ holding q as floats); out may be xq_.
  void divide_by_scales(int64_t n, int64_t k, float* out);
  // Training scratch, sized by reserve_training().
  int64_t train_rows_ = 0, train_cols_ = 0;
  std::vector<float> xq_, du_, s_x_, carry_, partial_;
  std::vector<double> partial_sums_;

 protected:
  // What reserve() has been asked for so far (it only grows): the derived backends size their own
  // scratch from it.
  int64_t reserved_rows() const { return rows_; }
  int64_t reserved_cols() const { return cols_; }
};

}  // namespace mmfree

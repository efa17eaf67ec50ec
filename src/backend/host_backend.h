#pragma once
// What the backends that compute in host memory (ref, cpu) share: memory from the heap, 64-byte
// aligned and zeroed; the embedding table read in place; plain copies; a BitLinear group's input
// formed by separate element-wise passes (which each backend provides) before its products.
#include <vector>

#include "backend/backend.h"

namespace mmfree {

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

 protected:
  // The products of calls on m [n][cols] (dense rows).
  virtual void products(std::span<const BitLinearCall> calls, const float* m, int64_t n) = 0;
  // out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w for n rows of k, x rows x_ld apart, out dense.
  virtual void rmsnorm(const float* x, int64_t x_ld, const float* w, int64_t n, int64_t k, float eps, float* out) = 0;
  // out[r][c] = silu(a[r][c]) * b[r][c], c < cols; a, b rows in_ld apart, out rows out_ld apart
  // (out may alias b).
  virtual void silu_mul(const float* a, const float* b, int64_t rows, int64_t cols, int64_t in_ld, float* out,
                        int64_t out_ld) = 0;

 private:
  // The group's input as dense rows: x itself, or m_ filled.
  const float* form_input(const BitLinearInput& in, int64_t n, int64_t cols);
  virtual int probe_threads() const { return 1; }
  std::vector<float> m_;  // [rows][max_cols], sized by reserve()
  int64_t rows_ = 0, cols_ = 0;

 protected:
  // What reserve() has been asked for so far (it only grows): the derived backends size their own
  // scratch from it.
  int64_t reserved_rows() const { return rows_; }
  int64_t reserved_cols() const { return cols_; }
};

}  // namespace mmfree

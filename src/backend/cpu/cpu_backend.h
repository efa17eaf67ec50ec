#pragma once
// The CPU backend: the packed int8 x ternary kernels (src/kernels/) on an instruction set chosen at
// run time, a persistent thread pool, and, for decoding, the read-ahead chain that has waiting
// threads pull in the next product's first weights (ternary_prefetch_next).
#include <memory>
#include <vector>

#include "backend/host_backend.h"
#include "kernels/cpu_isa.h"
#include "kernels/ternary_activations.h"
#include "kernels/ternary_matmul.h"

namespace mmfree {

class ThreadPool;

class CpuBackend : public HostBackend {
 public:
  // threads 0: physical cores; isa empty: the best this CPU has. Throws Error on a bad choice.
  CpuBackend(int threads, const std::string& isa);
  ~CpuBackend() override;

  std::string name() const override { return "cpu"; }
  std::string description() const override;
  int threads() const;
  int probe_threads() const override { return threads(); }
  // The kernels take tokens in blocks of about 100 (ternary_simd.inc): 256 rows are full speed.
  int64_t prefill_rows() const override { return 256; }

  std::unique_ptr<BackendMatrix> upload_matrix(const TernaryMatrix& w, float s_w) override;
  void reserve(int64_t rows, int64_t max_cols) override;
  void ternary_product(const BackendMatrix& w, const int8_t* q, int64_t n, int32_t* acc) override;
  void mlgru_scan(const MlgruScan& s) override;

 protected:
  void products(std::span<const BitLinearCall> calls, const float* m, int64_t n) override;
  void rmsnorm(const float* x, int64_t x_ld, const float* w, int64_t n, int64_t k, float eps, float* out) override;
  void silu_mul(const float* a, const float* b, int64_t rows, int64_t cols, int64_t in_ld, float* out,
                int64_t out_ld) override;
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
            const float* b, int64_t ldb, float beta, float* c, int64_t ldc) override;
  void quantize_rows(const float* x, const float* w, int64_t n, int64_t k, float* q, float* s_x) override;
  int run_parts(int64_t n, int64_t min_per_part, const std::function<void(int64_t, int64_t, int)>& fn) override;
  int max_parts() const override { return threads(); }

 private:
  struct CallScratch {
    AlignedBuffer<int8_t> q;  // [rows][cols]
    AlignedBuffer<float> s_x;  // [rows]
    ActivationBuffer acts;     // q laid out for the kernels
    PreparedActivations prepared;
  };
  // Decoding (one row) learns the order of its products: the group that followed the last one.
  void chain_decode_products(std::span<const BitLinearCall> calls);

  Isa isa_;
  std::unique_ptr<ThreadPool> pool_;
  ThreadPool* workers_ = nullptr;  // pool_ when it has more than one thread
  CallScratch scratch_[kMaxSharedInput];
  struct CpuMatrix;
  void forget_chains();
  std::vector<CpuMatrix*> live_;  // every matrix this backend made and that still exists
  CpuMatrix* last_decode_group_ = nullptr;
};

}  // namespace mmfree

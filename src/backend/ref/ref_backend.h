#pragma once
// The reference backend: SPEC.md's formulas written plainly, one thread, weights unpacked to
// {-1, 0, +1}. Slow on purpose; every other backend is tested against it (tests/test_backend_ops.cpp).
#include <vector>

#include "backend/host_backend.h"

namespace mmfree {

class RefBackend : public HostBackend {
 public:
  std::string name() const override { return "ref"; }
  std::string description() const override;
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
  int max_parts() const override { return 1; }

 private:
  std::vector<int8_t> q_;
  std::vector<float> s_x_;
  std::vector<int32_t> acc_;
};

}  // namespace mmfree

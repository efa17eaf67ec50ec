#include "kernels/blas.h"

#include <cblas.h>

#include <algorithm>

#include "util/thread_pool.h"

namespace mmfree::blas {

namespace {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

// Each call runs on its caller's thread; the pool owns the threads.
void single_threaded_openblas() {
  static const bool once = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)once;
}

constexpr int64_t kMinFlopsPerPart = int64_t{1} << 21;

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc, ThreadPool* pool) {
  if (m == 0 || n == 0) return;
  single_threaded_openblas();
  if (m >= n) {  // blocks of rows of C: rows of op(A)
    const int64_t min_rows = std::max<int64_t>(1, kMinFlopsPerPart / std::max<int64_t>(2 * n * k, 1));
    run_parts(pool, m, min_rows, [&](int64_t r0, int64_t r1, int) {
      sgemm(trans_a, trans_b, r1 - r0, n, k, alpha, trans_a ? a + r0 : a + r0 * lda, lda, b, ldb, beta, c + r0 * ldc, ldc);
    });
  } else {  // blocks of columns of C: columns of op(B)
    const int64_t min_cols = std::max<int64_t>(1, kMinFlopsPerPart / std::max<int64_t>(2 * m * k, 1));
    run_parts(pool, n, min_cols, [&](int64_t c0, int64_t c1, int) {
      sgemm(trans_a, trans_b, m, c1 - c0, k, alpha, a, lda, trans_b ? b + c0 * ldb : b + c0, ldb, beta, c + c0, ldc);
    });
  }
}

std::string core_name() { return openblas_get_corename(); }

}  // namespace mmfree::blas

// blas::gemm (OpenBLAS calls on blocks of C over a pool's threads) against a plain triple loop,
// for every transpose combination, padded strides, beta 0 and 1, and shapes that split by rows,
// by columns, or not at all.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/blas.h"
#include "util/thread_pool.h"

namespace mmfree {
namespace {

struct Shape {
  int64_t m, n, k;
};

TEST(TrainBlas, GemmMatchesPlainLoops) {
  ThreadPool pool(2);
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (Shape s : {Shape{1, 1, 1}, Shape{7, 13, 5}, Shape{2000, 40, 64}, Shape{40, 2000, 64}, Shape{257, 1031, 130}}) {
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (float beta : {0.0f, 1.0f}) {
          // Stored shapes: A is [m][k] or, transposed, [k][m]; B is [k][n] or [n][k]; rows padded by 3.
          const int64_t a_rows = ta ? s.k : s.m, a_cols = ta ? s.m : s.k, lda = a_cols + 3;
          const int64_t b_rows = tb ? s.n : s.k, b_cols = tb ? s.k : s.n, ldb = b_cols + 3, ldc = s.n + 3;
          std::vector<float> a(static_cast<size_t>(a_rows * lda)), b(static_cast<size_t>(b_rows * ldb)),
              c(static_cast<size_t>(s.m * ldc));
          for (auto* v : {&a, &b, &c})
            for (auto& x : *v) x = dist(rng);
          std::vector<float> want = c;
          for (int64_t i = 0; i < s.m; ++i)
            for (int64_t j = 0; j < s.n; ++j) {
              double acc = 0;
              for (int64_t p = 0; p < s.k; ++p)
                acc += static_cast<double>(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
              want[i * ldc + j] = static_cast<float>(0.5 * acc + beta * c[i * ldc + j]);
            }
          blas::gemm(ta, tb, s.m, s.n, s.k, 0.5f, a.data(), lda, b.data(), ldb, beta, c.data(), ldc, &pool);
          for (int64_t i = 0; i < s.m; ++i)
            for (int64_t j = 0; j < s.n; ++j)
              ASSERT_NEAR(c[i * ldc + j], want[i * ldc + j], 1e-4f * (1.0f + std::sqrt(static_cast<float>(s.k))))
                  << s.m << "x" << s.n << "x" << s.k << " ta " << ta << " tb " << tb << " beta " << beta << " at " << i
                  << "," << j;
          for (int64_t i = 0; i < s.m; ++i)  // the padding stays untouched
            for (int64_t j = s.n; j < ldc; ++j) ASSERT_EQ(c[i * ldc + j], want[i * ldc + j]);
        }
  }
}

}  // namespace
}  // namespace mmfree

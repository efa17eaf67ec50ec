#pragma once
// The float matrix products of training, on OpenBLAS. Row-major throughout.
#include <cstdint>
#include <string>

namespace mmfree {
class ThreadPool;
}

namespace mmfree::blas {

// C[m][n] = alpha * op(A) op(B) + beta * C, op(X) = X^T when the matching flag is set;
// op(A) is [m][k], op(B) is [k][n]; lda/ldb/ldc are the row strides of A, B, C as stored.
// C is cut into blocks of rows (or of columns, when n > m), one single-threaded OpenBLAS call per
// thread of `pool` (null: the calling thread alone): the element-wise work between products runs on
// the same threads, and no OpenBLAS worker spins beside it. Blocks are fixed by the shape and the
// pool's size, so results depend on the thread count only.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc, ThreadPool* pool);

// The kernel family OpenBLAS picked for this CPU, e.g. "Haswell" or "SkylakeX" (for benchmark notes).
std::string core_name();

}  // namespace mmfree::blas

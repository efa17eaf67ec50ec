#include "kernels/elementwise.h"

#include "kernels/elementwise_kernels.h"
#include "kernels/ternary_ref.h"
#include "model/ops.h"
#include "util/thread_pool.h"

namespace mmfree {
namespace {

void rmsnorm_quantize_scalar(const float* x, const float* w, int64_t n, int64_t k, int8_t* q, float* s_x) {
  rmsnorm_quantize_ref(x, w, n, k, q, s_x);
}

void silu_mul_scalar(const float* a, const float* b, int64_t count, float* out) {
  for (int64_t i = 0; i < count; ++i) out[i] = siluf(a[i]) * b[i];
}

void mlgru_step_scalar(const float* i, const float* f, const float* lb, int64_t d, float* h, float* h_out) {
  for (int64_t c = 0; c < d; ++c) {
    float fg = sigmoidf(f[c]);
    if (lb) fg = lb[c] + (1.0f - lb[c]) * fg;
    h[c] = fg * h[c] + siluf(i[c]) * (1.0f - fg);
    h_out[c] = h[c];
  }
}

constexpr kernels::ElementwiseKernels kScalarElementwise = {rmsnorm_quantize_scalar, rmsnorm_rows, silu_mul_scalar,
                                                            mlgru_step_scalar};

const kernels::ElementwiseKernels& table(Isa isa) {
#if defined(MMFREE_X86_KERNELS)
  if ((isa == Isa::Avx512 || isa == Isa::Avx512Vnni) && isa_available(isa)) return kernels::kAvx512Elementwise;
#endif
  (void)isa;
  return kScalarElementwise;
}

// Below this many elements a split over threads costs more than it saves.
constexpr int64_t kParallelElements = 1 << 16;

template <class RowsFn>
void over_rows(ThreadPool* pool, int64_t n, int64_t k, RowsFn fn) {
  if (!pool || n < 2 || n * k < kParallelElements) {
    fn(0, n);
    return;
  }
  const int64_t grain = (n + 4 * pool->size() - 1) / (4 * pool->size());
  pool->parallel_for(n, grain, fn);
}

}  // namespace

void rmsnorm_quantize(Isa isa, const float* x, const float* w, int64_t n, int64_t k, int8_t* q, float* s_x, ThreadPool* pool) {
  const auto fn = table(isa).rmsnorm_quantize;
  over_rows(pool, n, k, [&](int64_t r0, int64_t r1) { fn(x + r0 * k, w, r1 - r0, k, q + r0 * k, s_x + r0); });
}

void rmsnorm(Isa isa, const float* x, const float* w, int64_t n, int64_t k, float eps, float* out, ThreadPool* pool) {
  const auto fn = table(isa).rmsnorm;
  over_rows(pool, n, k, [&](int64_t r0, int64_t r1) { fn(x + r0 * k, w, r1 - r0, k, eps, out + r0 * k); });
}

void silu_mul(Isa isa, const float* a, const float* b, int64_t rows, int64_t cols, int64_t in_stride, float* out,
              int64_t out_stride, ThreadPool* pool) {
  const auto fn = table(isa).silu_mul;
  over_rows(pool, rows, cols, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) fn(a + r * in_stride, b + r * in_stride, cols, out + r * out_stride);
  });
}

void mlgru_step(Isa isa, const float* i, const float* f, const float* lb, int64_t d, float* h, float* h_out) {
  table(isa).mlgru_step(i, f, lb, d, h, h_out);
}

}  // namespace mmfree

#pragma once
// Internal: the table of vectorised element-wise kernels (plain data, see ternary_kernels.h for why).
#include <cstdint>

namespace mmfree::kernels {

struct ElementwiseKernels {
  void (*rmsnorm_quantize)(const float* x, const float* w, int64_t n, int64_t k, int8_t* q, float* s_x);
  void (*rmsnorm)(const float* x, const float* w, int64_t n, int64_t k, float eps, float* out);
  void (*silu_mul)(const float* a, const float* b, int64_t count, float* out);
  void (*mlgru_step)(const float* i, const float* f, const float* lb, int64_t d, float* h, float* h_out);
};

#if defined(MMFREE_X86_KERNELS)
extern const ElementwiseKernels kAvx512Elementwise;
#endif

}  // namespace mmfree::kernels

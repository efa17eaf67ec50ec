// The element-wise kernels vectorised with AVX-512 (flags: isa_flags.cmake); called only when the
// CPU has AVX-512. Same float operations in the same order as the reference formulas; no FMA
// except inside exp (the file is built with -ffp-contract=off). Plain code and intrinsics only,
// as in ternary_simd.inc.
#if defined(MMFREE_X86_KERNELS)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cmath>
#include <cstdint>

#include "kernels/elementwise_kernels.h"

namespace mmfree::kernels {
namespace {

inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1); }

// exp(x) = 2^n exp(r), n = round(x log2 e), r = x - n ln2 (ln2 split in two for precision), exp(r)
// by the Cephes single-precision polynomial (about 1 ulp); scalef applies 2^n and saturates to 0 / inf.
inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(100.0f)), _mm512_set1_ps(-150.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(y, n);
}

inline __m512 neg(__m512 x) { return _mm512_xor_ps(x, _mm512_set1_ps(-0.0f)); }
inline __m512 abs16(__m512 x) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), x); }
// sigmoidf / siluf of model/ops.h: 1 / (1 + exp(-x)) and x / (1 + exp(-x)).
inline __m512 sigmoid16(__m512 x) {
  return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(neg(x))));
}
inline __m512 silu16(__m512 x) { return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(neg(x)))); }

// sum of x[i]^2 in double, as the reference (each square is exact in double; only the order of the
// additions differs).
double sum_squares(const float* x, int64_t k) {
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < k; i += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(tail_mask(k - i), x + i);
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    a0 = _mm512_fmadd_pd(lo, lo, a0);
    a1 = _mm512_fmadd_pd(hi, hi, a1);
  }
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, _mm512_add_pd(a0, a1));
  double s = 0;
  for (double l : lanes) s += l;
  return s;
}

float rstd_of(const float* x, int64_t k, float eps) {
  return 1.0f / std::sqrt(static_cast<float>(sum_squares(x, k) / static_cast<double>(k)) + eps);
}

void rmsnorm_quantize(const float* x, const float* w, int64_t n, int64_t k, int8_t* q, float* s_x) {
  for (int64_t t = 0; t < n; ++t) {
    const float* xr = x + t * k;
    const __m512 rstd = _mm512_set1_ps(rstd_of(xr, k, 1e-6f));
    __m512 amax = _mm512_setzero_ps();
    for (int64_t i = 0; i < k; i += 16) {
      const __mmask16 m = tail_mask(k - i);
      const __m512 u = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + i), rstd), _mm512_maskz_loadu_ps(m, w + i));
      amax = _mm512_max_ps(amax, abs16(u));
    }
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, amax);
    float a = 0;
    for (float l : lanes) a = a < l ? l : a;
    const float s = 127.0f / (a < 1e-5f ? 1e-5f : a);
    const __m512 sv = _mm512_set1_ps(s);
    for (int64_t i = 0; i < k; i += 16) {
      const __mmask16 m = tail_mask(k - i);
      const __m512 v =
          _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + i), rstd), _mm512_maskz_loadu_ps(m, w + i)), sv);
      // std::round (half away from zero): truncate, then step away from zero when |fraction| >= 0.5.
      const __m512 tr = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __mmask16 up = _mm512_cmp_ps_mask(abs16(_mm512_sub_ps(v, tr)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
      const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
      __m512 r = _mm512_mask_add_ps(tr, up, tr, one);
      r = _mm512_min_ps(_mm512_max_ps(r, _mm512_set1_ps(-128.0f)), _mm512_set1_ps(127.0f));
      _mm512_mask_cvtsepi32_storeu_epi8(q + t * k + i, m, _mm512_cvttps_epi32(r));
    }
    s_x[t] = s;
  }
}

void rmsnorm(const float* x, const float* w, int64_t n, int64_t k, float eps, float* out) {
  for (int64_t t = 0; t < n; ++t) {
    const __m512 rstd = _mm512_set1_ps(rstd_of(x + t * k, k, eps));
    for (int64_t i = 0; i < k; i += 16) {
      const __mmask16 m = tail_mask(k - i);
      const __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + t * k + i), rstd), _mm512_maskz_loadu_ps(m, w + i));
      _mm512_mask_storeu_ps(out + t * k + i, m, v);
    }
  }
}

void silu_mul(const float* a, const float* b, int64_t count, float* out) {
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = tail_mask(count - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(silu16(_mm512_maskz_loadu_ps(m, a + i)), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

void mlgru_step(const float* in, const float* f, const float* lb, int64_t d, float* h, float* h_out) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t c = 0; c < d; c += 16) {
    const __mmask16 m = tail_mask(d - c);
    __m512 fg = sigmoid16(_mm512_maskz_loadu_ps(m, f + c));
    if (lb) {
      const __m512 l = _mm512_maskz_loadu_ps(m, lb + c);
      fg = _mm512_add_ps(l, _mm512_mul_ps(_mm512_sub_ps(one, l), fg));
    }
    const __m512 hn = _mm512_add_ps(_mm512_mul_ps(fg, _mm512_maskz_loadu_ps(m, h + c)),
                                    _mm512_mul_ps(silu16(_mm512_maskz_loadu_ps(m, in + c)), _mm512_sub_ps(one, fg)));
    _mm512_mask_storeu_ps(h + c, m, hn);
    _mm512_mask_storeu_ps(h_out + c, m, hn);
  }
}

}  // namespace

const ElementwiseKernels kAvx512Elementwise = {rmsnorm_quantize, rmsnorm, silu_mul, mlgru_step};

}  // namespace mmfree::kernels
#endif

#pragma once
// BitLinear's scale y = float(v) / d (v an int32 sum, d = s_x * s_w) without a division per
// output: the tiled product's epilogue forms r = RN(1/d) once per token and then
//   q0 = RN(a r), e0 = RN(a - d q0), q1 = RN(q0 + e0 r), e1 = RN(a - d q1), q = RN(q1 + e1 r)
// (a = float(v), each step one IEEE operation, e and q by fma), which is RN(a / d) bit for bit for
// every int32 v when 2^-64 <= d <= 2^64 (quotient_fast(d)); other d (0, subnormal, huge, negative,
// inf, NaN) take the division itself. Host and device run the same operations, so the CPU test
// (tests/test_scaled_quotient.cpp) checks this very code.
//
// Why it is exact. Scale a and d to significands A, B in [1, 2) (every intermediate below is a
// normal number in the range above, so all steps scale exactly; v = 0 and the sign of v are
// trivial: each step is odd in a). B = 1 is exact throughout. Otherwise 1/B is in (1/2, 1), so
// delta = B r - 1 has |delta| <= B 2^-25 < 2^-24. Let Q = A/B in [2^e_Q, 2^(e_Q + 1)), E = ulp(Q) =
// 2^(e_Q - 23).
// 1. |Q - q0| < 2E: q0 is within half an ulp of A r = Q (1 + delta), at most E (an ulp of the
//    binade above), and |Q delta| < Q 2^-24 < E.
// 2. e0 = B (Q - q0)(1 + eps), |eps| <= 2^-24, so q0 + e0 r = Q + (Q - q0)((1 + eps)(1 + delta) - 1)
//    is within tau = 2E (2^-23 + 2^-48) of Q; rounded, q1 is within E/2 + tau of Q and not below
//    Q's binade (a value within tau of a power of two rounds to it).
// 3. a - d q1 = B (Q - q1) is a multiple of 2^(e_Q - 46) below 2^(e_Q - 22) in magnitude: e1 is
//    exact (Markstein's remainder), and q1 + e1 r = Q + (Q - q1) delta.
// 4. No midpoint m between floats lies that close to Q: A - B m is a nonzero multiple of
//    2^(e_Q - 47) (m has 25 significant bits, A 24), so |Q - m| >= 2^(e_Q - 47) / B, while
//    |(Q - q1) delta| <= (E/2 + tau) B 2^-25; the first exceeds the second when
//    B^2 (1 + 2^-21 + 2^-46) < 4, true for every B up to 2 - 4 2^-23. So q = RN(Q) but for the
//    three largest significands B, which the CPU test checks (with margin: the 16 largest) for
//    every A.
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define MMFREE_QUOTIENT_FN __host__ __device__ __forceinline__
#else
#define MMFREE_QUOTIENT_FN inline
#endif

namespace mmfree::cuda {

// Whether d takes the division-free sequence.
MMFREE_QUOTIENT_FN bool quotient_fast(float d) { return d >= 0x1p-64f && d <= 0x1p64f; }

// RN(1/d), for quotient_fast(d).
MMFREE_QUOTIENT_FN float quotient_reciprocal(float d) {
#if defined(__CUDA_ARCH__)
  return __frcp_rn(d);
#else
  return 1.0f / d;
#endif
}

// RN(a / d) for a = float(v) of some int32 v (an integer-valued float: the proof's dividend), for
// quotient_fast(d), r = quotient_reciprocal(d).
MMFREE_QUOTIENT_FN float scaled_quotient_of_float(float a, float d, float r) {
#if defined(__CUDA_ARCH__)
  const float q0 = __fmul_rn(a, r);
  const float q1 = __fmaf_rn(__fmaf_rn(-q0, d, a), r, q0);
  return __fmaf_rn(__fmaf_rn(-q1, d, a), r, q1);
#else
  const float q0 = a * r;
  const float q1 = std::fma(std::fma(-q0, d, a), r, q0);
  return std::fma(std::fma(-q1, d, a), r, q1);
#endif
}

// RN(float(v) / d) for quotient_fast(d), r = quotient_reciprocal(d).
MMFREE_QUOTIENT_FN float scaled_quotient(int32_t v, float d, float r) {
#if defined(__CUDA_ARCH__)
  return scaled_quotient_of_float(__int2float_rn(v), d, r);
#else
  return scaled_quotient_of_float(static_cast<float>(v), d, r);
#endif
}

}  // namespace mmfree::cuda

#undef MMFREE_QUOTIENT_FN

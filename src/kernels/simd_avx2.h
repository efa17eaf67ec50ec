#pragma once
// AVX2 primitives for ternary_simd.inc: one plane = two ymm registers; products by vpmaddubsw +
// vpmaddwd. Included only by the file built with -mavx2.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace mmfree::kernels::MMFREE_ISA_NS {

struct Simd {
  struct Plane {
    __m256i lo, hi;
  };
  using Acc = __m256i;
  static constexpr int kTileRows = 2, kTileTokens = 3;
  static constexpr int kDecodeRows = 4, kDecodeAccs = 1, kDecodeStreams = 1;

  // Keeps a loaded value in a register: without this GCC folds the load into each of the four
  // plane decodes, reading every (cache-line-crossing) 66-byte block four times.
  static Plane in_register(Plane v) {
    asm("" : "+x"(v.lo), "+x"(v.hi));
    return v;
  }
  static Acc zero() { return _mm256_setzero_si256(); }
  static Plane load_plane(const int8_t* p) {
    return {_mm256_load_si256(reinterpret_cast<const __m256i*>(p)), _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 32))};
  }
  template <int Bytes>
  static Plane load_raw(const uint8_t* p) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    if constexpr (Bytes == 64) {
      return {lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32))};
    } else {
      static_assert(Bytes > 32 && Bytes % 4 == 0, "AVX2 partial loads go by 32-bit words");
      // Lane i is loaded when its mask word is negative: the first (Bytes - 32) / 4 words.
      const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((Bytes - 32) / 4), idx);
      return {lo, _mm256_maskload_epi32(reinterpret_cast<const int*>(p + 32), mask)};
    }
  }
  static Plane load_raw_tail(const uint8_t* p, int bytes) {
    alignas(32) uint8_t buf[64] = {};
    std::memcpy(buf, p, static_cast<size_t>(bytes));
    return load_raw<64>(buf);
  }
  // Non-temporal: each weight byte is read once per product, no use keeping it in L2.
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_NTA); }

  static Acc dot(Acc acc, const Plane& codes, const Plane& x) {
    // Each int16 pair sum is at most 2 * 2 * 128 = 512, so the int16 sum of two cannot overflow.
    const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(codes.lo, x.lo), _mm256_maddubs_epi16(codes.hi, x.hi));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
  static Acc add(Acc a, Acc b) { return _mm256_add_epi32(a, b); }
  static int32_t reduce(Acc a) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
  }

  template <int Shift>
  static Plane bits2(const Plane& raw) {
    const __m256i three = _mm256_set1_epi8(3);
    return {_mm256_and_si256(_mm256_srli_epi16(raw.lo, Shift), three), _mm256_and_si256(_mm256_srli_epi16(raw.hi, Shift), three)};
  }
  static Plane plus1(const Plane& raw) {
    const __m256i one = _mm256_set1_epi8(1);
    return {_mm256_add_epi8(raw.lo, one), _mm256_add_epi8(raw.hi, one)};
  }
  static Plane odd_bytes(const Plane& raw) {
    const __m256i m = _mm256_set1_epi16(static_cast<short>(0xFF00));
    return {_mm256_and_si256(raw.lo, m), _mm256_and_si256(raw.hi, m)};
  }
  // See simd_avx512.h: the same arithmetic; vpackuswb packs per 128-bit lane here too.
  template <int Pow3>
  static Plane digits(const Plane& raw, const Plane& raw_odd) {
    const __m256i three = _mm256_set1_epi16(3);
    const __m256i pe = _mm256_set1_epi16(static_cast<short>(Pow3 * 256)), po = _mm256_set1_epi16(Pow3);
    auto half = [&](__m256i r, __m256i ro) {
      return _mm256_packus_epi16(_mm256_mulhi_epu16(_mm256_mullo_epi16(r, pe), three),
                                 _mm256_mulhi_epu16(_mm256_mullo_epi16(ro, po), three));
    };
    return {half(raw.lo, raw_odd.lo), half(raw.hi, raw_odd.hi)};
  }
};

}  // namespace mmfree::kernels::MMFREE_ISA_NS

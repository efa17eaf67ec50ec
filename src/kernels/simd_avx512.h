#pragma once
// AVX-512 (F+BW+VL) primitives for ternary_simd.inc: one plane = one zmm register. With VNNI
// (__AVX512VNNI__, set by the file's flags) the product of unsigned codes and signed activations is
// one vpdpbusd; without it, vpmaddubsw + vpmaddwd. Included only by files built with these flags.

// GCC 12's AVX-512 headers build some intrinsics on a self-initialised "undefined" register and
// then warn about it when they are inlined (GCC bug 105593); the warning is in the header, not here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

namespace mmfree::kernels::MMFREE_ISA_NS {

struct Simd {
  using Plane = __m512i;
  using Acc = __m512i;
  // Register tiles, measured on a Zen 5: prefill rows x tokens accumulators (plus one decoded
  // plane per row, one activation plane and the raw bytes fit the 32 registers); decode rows
  // per tile, accumulators per row, and TQ2_0_R8 tiles read at once (2 x 8 rows, one
  // accumulator each: 16 of the 32 registers).
  static constexpr int kTileRows = 4, kTileTokens = 5;
  static constexpr int kDecodeRows = 8, kDecodeAccs = 2, kDecodeStreams = 2;

  // Keeps a loaded value in a register: without this GCC folds the load into each of the four
  // plane decodes, reading every (cache-line-crossing) 66-byte block four times.
  static Plane in_register(Plane v) {
    asm("" : "+v"(v));
    return v;
  }
  static Acc zero() { return _mm512_setzero_si512(); }
  static Plane load_plane(const int8_t* p) { return _mm512_load_si512(p); }
  template <int Bytes>
  static Plane load_raw(const uint8_t* p) {
    if constexpr (Bytes == 64) return _mm512_loadu_si512(p);
    else return _mm512_maskz_loadu_epi8((uint64_t{1} << Bytes) - 1, p);
  }
  static Plane load_raw_tail(const uint8_t* p, int bytes) {
    return _mm512_maskz_loadu_epi8(bytes >= 64 ? ~uint64_t{0} : (uint64_t{1} << bytes) - 1, p);
  }
  // Non-temporal: each weight byte is read once per product, no use keeping it in L2.
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_NTA); }

  static Acc dot(Acc acc, Plane codes, Plane x) {
#if defined(__AVX512VNNI__)
    return _mm512_dpbusd_epi32(acc, codes, x);
#else
    // Pairs of code * x fit int16 (|2 * 2 * 128| = 512), so vpmaddubsw never saturates.
    const __m512i pairs = _mm512_maddubs_epi16(codes, x);
    return _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)));
#endif
  }
  static Acc add(Acc a, Acc b) { return _mm512_add_epi32(a, b); }
  static int32_t reduce(Acc a) {
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(a), _mm512_castsi512_si256(_mm512_shuffle_i64x2(a, a, 0xee)));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
  }

  // TQ2_0: the 2-bit field at Shift of every byte.
  template <int Shift>
  static Plane bits2(Plane raw) {
    if constexpr (Shift == 0) return _mm512_and_si512(raw, _mm512_set1_epi8(3));
    else return _mm512_and_si512(_mm512_srli_epi16(raw, Shift), _mm512_set1_epi8(3));
  }
  // I8: code = weight + 1.
  static Plane plus1(Plane raw) { return _mm512_add_epi8(raw, _mm512_set1_epi8(1)); }
  // TQ1_0: odd bytes kept in the high half of each 16-bit lane (computed once per block).
  static Plane odd_bytes(Plane raw) { return _mm512_and_si512(raw, _mm512_set1_epi16(static_cast<short>(0xFF00))); }
  // TQ1_0: digit ((y * Pow3) mod 256 * 3) >> 8 of every byte y. In a 16-bit lane, multiplying by
  // Pow3 * 256 keeps exactly (y * Pow3) mod 256 in the high byte; the high half of a 16-bit
  // product by 3 is the digit. Even and odd bytes go separately and are packed back per 128-bit
  // lane (even bytes first), the order tq1_plane_pos gives the activations.
  template <int Pow3>
  static Plane digits(Plane raw, Plane raw_odd) {
    const __m512i three = _mm512_set1_epi16(3);
    const __m512i even = _mm512_mullo_epi16(raw, _mm512_set1_epi16(static_cast<short>(Pow3 * 256)));
    const __m512i odd = _mm512_mullo_epi16(raw_odd, _mm512_set1_epi16(Pow3));
    return _mm512_packus_epi16(_mm512_mulhi_epu16(even, three), _mm512_mulhi_epu16(odd, three));
  }
};

}  // namespace mmfree::kernels::MMFREE_ISA_NS

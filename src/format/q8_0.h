#pragma once
// ggml's Q8_0: blocks of 32 values, each an f16 scale d then 32 int8 codes; value = d * code.
// Used for embeddings converted with --embeddings q8_0.
#include <cstdint>

namespace mmfree {

inline constexpr int64_t kQ8_0Block = 32;
inline constexpr int64_t kQ8_0BlockBytes = 34;

// n must be a multiple of 32. d = max|x| / 127 per block, code = round(x / d) (half away from zero),
// as ggml's reference quantiser does.
void quantize_q8_0(const float* x, int64_t n, uint8_t* out);
void dequantize_q8_0(const uint8_t* in, int64_t n, float* out);

}  // namespace mmfree

#include "format/q8_0.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/error.h"
#include "util/half.h"

namespace mmfree {

void quantize_q8_0(const float* x, int64_t n, uint8_t* out) {
  check(n % kQ8_0Block == 0, "internal: q8_0 needs a multiple of 32 values");
  for (int64_t b = 0; b < n / kQ8_0Block; ++b, x += kQ8_0Block, out += kQ8_0BlockBytes) {
    float amax = 0;
    for (int64_t i = 0; i < kQ8_0Block; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16(d);
    std::memcpy(out, &h, 2);
    for (int64_t i = 0; i < kQ8_0Block; ++i) out[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[i] * inv)));
  }
}

void dequantize_q8_0(const uint8_t* in, int64_t n, float* out) {
  if (n % kQ8_0Block != 0) throw Error("internal: q8_0 needs a multiple of 32 values");  // no string unless it fails
  for (int64_t b = 0; b < n / kQ8_0Block; ++b, in += kQ8_0BlockBytes, out += kQ8_0Block) {
    uint16_t h;
    std::memcpy(&h, in, 2);
    const float d = f16_to_f32(h);
    for (int64_t i = 0; i < kQ8_0Block; ++i) out[i] = d * static_cast<float>(static_cast<int8_t>(in[2 + i]));
  }
}

}  // namespace mmfree

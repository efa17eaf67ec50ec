#include "model/bitlinear.h"

namespace mmfree {

Buffer upload_floats(Backend& be, std::span<const float> v) {
  Buffer b = be.alloc(static_cast<int64_t>(v.size_bytes()));
  be.write(b.as<void>(), v.data(), static_cast<int64_t>(v.size_bytes()));
  return b;
}

BitLinear::BitLinear(Backend& be, const PackedLinear& p)
    : w_(be.upload_matrix(p.weight(), p.weight_scale())),
      host_bytes_(be.host_memory() ? p.owned_bytes() : nullptr),
      norm_(upload_floats(be, p.norm())),
      weight_bytes_(p.weight_bytes()) {}

void BitLinear::forward(Backend& be, const BitLinearInput& in, int64_t n, float* y) const {
  const BitLinearCall c = call(y);
  be.bitlinear({&c, 1}, in, n);
}

}  // namespace mmfree

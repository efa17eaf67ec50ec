#include "kernels/cpu_isa.h"

#include "util/error.h"

namespace mmfree {
namespace {

constexpr Isa kAll[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni};

bool cpu_has(Isa isa) {
#if defined(MMFREE_X86_KERNELS)
  // __builtin_cpu_supports also checks that the OS saves the wide registers (XCR0).
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl");
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return avx2;
    case Isa::Avx512: return avx512;
    case Isa::Avx512Vnni: return avx512 && __builtin_cpu_supports("avx512vnni");
  }
  return false;
#else
  return isa == Isa::Scalar;
#endif
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Avx512Vnni: return "avx512vnni";
  }
  return "?";
}

Isa parse_isa(const std::string& name) {
  for (Isa isa : kAll)
    if (name == isa_name(isa)) return isa;
  throw Error("unknown instruction set '" + name + "' (expected scalar, avx2, avx512 or avx512vnni)");
}

bool isa_available(Isa isa) {
  static const bool has[] = {cpu_has(Isa::Scalar), cpu_has(Isa::Avx2), cpu_has(Isa::Avx512), cpu_has(Isa::Avx512Vnni)};
  return has[static_cast<int>(isa)];
}

Isa best_isa() {
  Isa best = Isa::Scalar;
  for (Isa isa : kAll)
    if (isa_available(isa)) best = isa;
  return best;
}

std::vector<Isa> available_isas() {
  std::vector<Isa> v;
  for (Isa isa : kAll)
    if (isa_available(isa)) v.push_back(isa);
  return v;
}

}  // namespace mmfree

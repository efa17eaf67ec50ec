// Every SIMD test loops over available_isas() (or skips what is not available), so a wrong answer
// there would shrink them silently. This checks it against the kernel's own list of CPU features
// in /proc/cpuinfo: on a machine with AVX-512 or VNNI, CI fails unless those kernels are built,
// detected, and so tested.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "kernels/cpu_isa.h"

namespace mmfree {
namespace {

std::set<std::string> cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::set<std::string> flags;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      for (std::string w; words >> w;) flags.insert(w);
      break;  // every core lists the same
    }
  return flags;
}

TEST(CpuIsa, EveryInstructionSetOfThisCpuIsBuiltAndTested) {
  const auto f = cpuinfo_flags();
  if (f.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags (not Linux on x86?)";
  const bool avx2 = f.count("avx2") && f.count("fma");
  const bool avx512 = avx2 && f.count("avx512f") && f.count("avx512bw") && f.count("avx512vl");
  const bool vnni = avx512 && f.count("avx512_vnni");
  EXPECT_EQ(isa_available(Isa::Avx2), avx2);
  EXPECT_EQ(isa_available(Isa::Avx512), avx512);
  EXPECT_EQ(isa_available(Isa::Avx512Vnni), vnni);
  std::string tested;
  for (Isa isa : available_isas()) tested += std::string(tested.empty() ? "" : ", ") + isa_name(isa);
  std::printf("[ metric ] instruction sets tested on this CPU: %s\n", tested.c_str());
}

}  // namespace
}  // namespace mmfree

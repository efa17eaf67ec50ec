#pragma once
// The instruction sets the kernels are compiled for, and which of them this CPU runs. One binary
// runs on any x86-64: the fast kernels live in files compiled with their own -m flags and are
// called only after the CPU has been asked (isa_flags.cmake).
#include <string>
#include <vector>

namespace mmfree {

enum class Isa {
  Scalar,      // portable C++
  Avx2,        // 256-bit, maddubs/madd for the int8 products
  Avx512,      // AVX-512 F+BW+VL, maddubs/madd
  Avx512Vnni,  // AVX-512 with VNNI: vpdpbusd
};

const char* isa_name(Isa isa);
Isa parse_isa(const std::string& name);  // throws Error listing the valid names
// True when this build holds kernels for isa and this CPU (and OS) can run them.
bool isa_available(Isa isa);
// The fastest available instruction set.
Isa best_isa();
// Every available instruction set, slowest first (for tests that compare them all).
std::vector<Isa> available_isas();

}  // namespace mmfree

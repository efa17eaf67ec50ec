// The ternary kernels compiled for avx512 (flags: isa_flags.cmake); called only when the CPU has it.
#if defined(MMFREE_X86_KERNELS)
#define MMFREE_ISA_NS avx512
#define MMFREE_KERNEL_SET kAvx512Kernels
#include "kernels/simd_avx512.h"
#include "kernels/ternary_simd.inc"
#endif

// The ternary kernels compiled for avx2 (flags: isa_flags.cmake); called only when the CPU has it.
#if defined(MMFREE_X86_KERNELS)
#define MMFREE_ISA_NS avx2
#define MMFREE_KERNEL_SET kAvx2Kernels
#include "kernels/simd_avx2.h"
#include "kernels/ternary_simd.inc"
#endif

// The ternary kernels compiled for avx512vnni (flags: isa_flags.cmake); called only when the CPU has it.
#if defined(MMFREE_X86_KERNELS)
#define MMFREE_ISA_NS avx512vnni
#define MMFREE_KERNEL_SET kAvx512VnniKernels
#include "kernels/simd_avx512.h"
#include "kernels/ternary_simd.inc"
#endif

#pragma once
// The quantising row pass (elementwise.h: norm_quantize, gated_norm_quantize, glu_quantize) for many
// rows at once (prefill, training): a row per warp (per 2, 4 or 8 warps for rows longer than 1024),
// its values in registers, reductions by warp shuffles; the same bits as elementwise.cu's row kernel.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "backend/cuda/row_common.cuh"

namespace mmfree::cuda {

// Launches the pass over rows 0..n-1 of a (checked by the caller: k, q_stride, targets) on stream s,
// with `targets` of a's targets; false, launching nothing, for what it does not take: GatedStep,
// rows longer than 8192, targets without codes (q null) but Plain's single one, and rows or weights not aligned for 16-byte loads (k or ld not a multiple
// of 4, pointers not 16-byte aligned, dequantized not 8-byte aligned).
bool quantize_many_rows(RowMode mode, int targets, const RowArgs& a, int64_t n, cudaStream_t s);

}  // namespace mmfree::cuda

#pragma once
// The small kernels the CUDA backend needs around the main ones (elementwise.h, ternary_product.h):
// embedding lookups in the stored float types, state slots gathered and scattered, and int8 rows
// padded for the products.
#include <cuda_runtime.h>

#include <cstdint>

#include "format/ggml_types.h"

namespace mmfree::cuda {

// x[r] = row tokens[r] of a table of `cols` values per row stored as `type` (F32, F16, BF16 or
// Q8_0, row_bytes apart), decoded exactly as format/float_codec.h decodes it.
void embed_rows(GgmlType type, const uint8_t* table, int64_t row_bytes, int64_t cols, const int32_t* tokens, int64_t n,
                float* x, cudaStream_t s);

// dense[b][c] = states[slots[b] * slot_stride + c] (gather), or the reverse (scatter), c < d.
void gather_states(const float* states, const int32_t* slots, int64_t slot_stride, int64_t B, int64_t d, float* dense,
                   cudaStream_t s);
void scatter_states(const float* dense, const int32_t* slots, int64_t slot_stride, int64_t B, int64_t d, float* states,
                    cudaStream_t s);

// out[t][c] = q[t][c] for c < cols, 0 up to stride; sums[t] = the sum of row t.
void pad_rows(const int8_t* q, int64_t n, int64_t cols, int64_t stride, int8_t* out, int32_t* sums, cudaStream_t s);

}  // namespace mmfree::cuda

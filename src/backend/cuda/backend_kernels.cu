#include "backend/cuda/backend_kernels.h"

#include <cuda_fp16.h>

#include "backend/cuda/runtime.h"
#include "util/error.h"

namespace mmfree::cuda {
namespace {

__device__ float decode_value(GgmlType type, const uint8_t* row, int64_t c) {
  switch (type) {
    case GgmlType::F32: return reinterpret_cast<const float*>(row)[c];
    case GgmlType::F16: return __half2float(__ushort_as_half(reinterpret_cast<const uint16_t*>(row)[c]));
    case GgmlType::BF16: return __uint_as_float(static_cast<uint32_t>(reinterpret_cast<const uint16_t*>(row)[c]) << 16);
    default: {  // Q8_0: blocks of an f16 scale then 32 int8 codes
      const uint8_t* block = row + (c / 32) * 34;
      const float d = __half2float(__ushort_as_half(static_cast<uint16_t>(block[0] | (block[1] << 8))));
      return d * static_cast<float>(static_cast<int8_t>(block[2 + c % 32]));
    }
  }
}

__global__ void embed_kernel(GgmlType type, const uint8_t* table, int64_t row_bytes, int64_t cols, const int32_t* tokens,
                             float* x) {
  const int64_t r = blockIdx.x;
  const uint8_t* row = table + static_cast<int64_t>(tokens[r]) * row_bytes;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) x[r * cols + c] = decode_value(type, row, c);
}

__global__ void gather_kernel(const float* states, const int32_t* slots, int64_t slot_stride, int64_t d, float* dense) {
  const int64_t b = blockIdx.y;
  const float* from = states + static_cast<int64_t>(slots[b]) * slot_stride;
  for (int64_t c = blockIdx.x * blockDim.x + threadIdx.x; c < d; c += gridDim.x * blockDim.x) dense[b * d + c] = from[c];
}

__global__ void scatter_kernel(const float* dense, const int32_t* slots, int64_t slot_stride, int64_t d, float* states) {
  const int64_t b = blockIdx.y;
  float* to = states + static_cast<int64_t>(slots[b]) * slot_stride;
  for (int64_t c = blockIdx.x * blockDim.x + threadIdx.x; c < d; c += gridDim.x * blockDim.x) to[c] = dense[b * d + c];
}

__global__ void pad_kernel(const int8_t* q, int64_t cols, int64_t stride, int8_t* out, int32_t* sums) {
  __shared__ int partial[256];
  const int64_t t = blockIdx.x;
  int sum = 0;
  for (int64_t c = threadIdx.x; c < stride; c += blockDim.x) {
    const int8_t v = c < cols ? q[t * cols + c] : 0;
    out[t * stride + c] = v;
    sum += v;
  }
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int o = blockDim.x / 2; o > 0; o >>= 1) {
    if (static_cast<int>(threadIdx.x) < o) partial[threadIdx.x] += partial[threadIdx.x + o];
    __syncthreads();
  }
  if (threadIdx.x == 0) sums[t] = partial[0];
}

unsigned blocks_for(int64_t d) { return static_cast<unsigned>(std::min<int64_t>((d + 255) / 256, 64)); }

}  // namespace

void embed_rows(GgmlType type, const uint8_t* table, int64_t row_bytes, int64_t cols, const int32_t* tokens, int64_t n,
                float* x, cudaStream_t s) {
  if (n <= 0) return;
  if (type != GgmlType::F32 && type != GgmlType::F16 && type != GgmlType::BF16 && type != GgmlType::Q8_0)
    throw Error("cuda: embeddings stored as " + ggml_type_name(static_cast<uint32_t>(type)) + " are not supported");
  embed_kernel<<<static_cast<unsigned>(n), 256, 0, s>>>(type, table, row_bytes, cols, tokens, x);
  check_launch("embed_kernel");
}

void gather_states(const float* states, const int32_t* slots, int64_t slot_stride, int64_t B, int64_t d, float* dense,
                   cudaStream_t s) {
  if (B <= 0) return;
  gather_kernel<<<dim3(blocks_for(d), static_cast<unsigned>(B)), 256, 0, s>>>(states, slots, slot_stride, d, dense);
  check_launch("gather_kernel");
}

void scatter_states(const float* dense, const int32_t* slots, int64_t slot_stride, int64_t B, int64_t d, float* states,
                    cudaStream_t s) {
  if (B <= 0) return;
  scatter_kernel<<<dim3(blocks_for(d), static_cast<unsigned>(B)), 256, 0, s>>>(dense, slots, slot_stride, d, states);
  check_launch("scatter_kernel");
}

void pad_rows(const int8_t* q, int64_t n, int64_t cols, int64_t stride, int8_t* out, int32_t* sums, cudaStream_t s) {
  if (n <= 0) return;
  pad_kernel<<<static_cast<unsigned>(n), 256, 0, s>>>(q, cols, stride, out, sums);
  check_launch("pad_kernel");
}

}  // namespace mmfree::cuda

#pragma once
// Ternary x int8 products on the GPU: y[t][o] = sum_i W[o][i] q[t][i], the int32 sums of
// ternary_matmul_ref bit for bit, then (optionally) BitLinear's scale y = float(sum) / (s_x[t] * s_w)
// with the CPU's float operations. Weights in the mma16 layout (mma_layout.h), decoded on chip into
// the int8 A fragments of mma.sync.m16n8k32 (tensor cores); activations as int8 rows.
// One launch serves up to kMaxProducts products with the same token count (i/f/g: one input, each
// matrix with the activations its own norm weights quantised).
// Decode (few tokens) splits each row tile's columns over several warps so that every SM streams
// weights; past 32 tokens each warp takes 32 rows x 32 tokens, the activations coming through L1;
// for many tokens on Hopper, blocks of 128 rows x 128 tokens keep the activations in shared memory
// for wgmma.
// Launched with programmatic dependent launch (launch.cuh): a product's first weights are read while
// the kernel before it on the stream finishes; callers need do nothing for it.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>

namespace mmfree::cuda {

// A matrix on the device: mma_bytes(rows, cols) bytes in the mma16 layout, 16-byte aligned.
struct DeviceTernary {
  const uint8_t* codes = nullptr;
  int64_t rows = 0, cols = 0;
};

// Where one product goes, row stride ld (>= the matrix's rows): either the int32 sums acc[t * ld + o]
// or y[t * ld + o] = float(sum) / (x.scale[t] * w_scale).
struct ProductOut {
  int32_t* acc = nullptr;
  float* y = nullptr;
  int64_t ld = 0;
  float w_scale = 1;
};

// n rows of int8 activations: row t at q + t * stride, stride a multiple of 16 and at least
// padded_cols(cols); q 16-byte aligned. Bytes past cols in a row are read but never change a sum
// (the padded weights there have code 0). sums[t]: the sum of row t's first cols values (the
// products use unsigned codes weight + 1 and subtract it). scale[t]: s_x, needed for y outputs.
struct DeviceActivations {
  const int8_t* q = nullptr;
  int64_t stride = 0;
  const int32_t* sums = nullptr;
  const float* scale = nullptr;
  int64_t n = 0, cols = 0;
};

struct Product {
  DeviceTernary w;
  DeviceActivations x;  // x.cols == w.cols; the same x.n for every product of a launch
  ProductOut out;
};
constexpr int kMaxProducts = 4;

// Which kernel: the warp path (weights and activations straight into registers; any n) or the
// tiled path (blocks of 128 rows x 128 tokens through shared memory, wgmma; for many tokens; only
// where tiled_product_available()).
enum class ProductPath { Auto, Warp, Tiled };
// Whether the current GPU runs the tiled path: a Hopper GPU (compute capability 9.0, sm_90a code).
bool tiled_product_available();
// Auto takes the tiled path from this many tokens on, when the products make at least 3 blocks of
// 128 rows x 128 tokens per SM (where it measured faster on the H200: docs/BENCHMARKS.md).
constexpr int64_t kTiledMinTokens = 256;

// Launch shape, for tests and the bench (0 / Auto: picked from the shapes). k_warps: warps that share
// one strip of row tiles along the columns (1, 2, 4, 8 or 16; at most 8 past 32 tokens); warp_tokens:
// past 32 tokens, the tokens a warp takes at once (32 or 64); both for the warp path only.
struct ProductTuning {
  int k_warps = 0;
  int warp_tokens = 0;
  ProductPath path = ProductPath::Auto;
};

// Column-splitting warps per strip that the warp path picks when ProductTuning::k_warps is 0, on
// the current GPU: strips_x_token_groups strips of 16 rows times groups of 8 * nt tokens, `units`
// 128-column units in the widest row, at most max_kw (mmfree_chain_floor mirrors decode's launches).
int auto_k_warps(int64_t strips_x_token_groups, int units, int nt, int max_kw);

// Enqueues the products on stream s. Throws Error on mismatched shapes or token counts, bad alignment or strides,
// more than kMaxProducts products, the tiled path asked for where it is not available, or a launch failure.
// Outputs must not overlap the inputs.
void ternary_product(std::span<const Product> products, cudaStream_t s,
                     ProductTuning tuning = {});

}  // namespace mmfree::cuda

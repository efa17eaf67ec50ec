// mmfree_chain_floor: what batch-1 decode's chain of kernels costs with the model's arithmetic taken
// out (issue 12; docs/BENCHMARKS.md, "The floor of the decode chain"). A step of the 2.7B preset (32
// layers, then the final norm, the LM head and the greedy token's argmax) is replayed as mmfree
// records it (four row kernels and four products a layer, each launch programmatic, one CUDA graph),
// every kernel cut down to what the chain cannot skip:
//   row kernel: one block; loads the rows the products wrote (from L2), sums them, makes its
//     dependent block reductions (sums of squares in double, maxima), stores int8 codes;
//   product: mmfree's grid and k-split for one token; loads its weights before its wait, then its
//     q from L2, a dp4a a word, the strip's k-split warps summed in shared memory, 16 floats out.
// No norm weights, MLGRU or GLU functions, int sums, per-token scales or division. Variants remove
// parts (what each costs) or change the structure (fewer launches a layer).
// Usage: mmfree_chain_floor [--device N] [--rounds R]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <charconv>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "backend/cuda/bandwidth.h"
#include "backend/cuda/graph_timing.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/row_common.cuh"
#include "backend/cuda/runtime.h"
#include "backend/cuda/ternary_product.h"

namespace mmfree::cuda::floor {
namespace {

constexpr int kMaxIn = 4, kMaxTargets = 3;
constexpr int kLayers = 32, kD = 2560, kFf = 6912, kVocab = 32000;

struct RowWork {
  const float* in[kMaxIn] = {};  // rows summed into m (the products' outputs, the residual, the state)
  int n_in = 0;
  float* x_out = nullptr;            // m stored back (the residual stream, the state), or null
  int8_t* q[kMaxTargets] = {};       // codes, a row per target
  int targets = 0;
  unsigned target_mask = 0x7;        // the targets quantised
  int d = 0;
  int reductions = 3;                // 3: two sums of squares and the maxima; 2: one and the maxima
  bool work = true;                  // false: the launch alone (wait, allow)
  bool codes = true;                 // false: the maxima, but no codes stored
};

template <class T, class Op>
__device__ T block_all(T v, T* scratch, Op op, T identity) {  // one barrier, as elementwise.cu's block_reduce
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : identity;
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// The row work by the block's threads, G groups of 4 columns a thread at most.
template <int G>
__device__ void row_work(const RowWork& a) {
  __shared__ double ss_scratch[2][32];
  __shared__ float max_scratch[kMaxTargets][32];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  auto column = [](int g) { return 4 * (static_cast<int>(threadIdx.x) + g * static_cast<int>(blockDim.x)); };
  float v[G][4] = {};
#pragma unroll
  for (int i = 0; i < kMaxIn; ++i)
    if (i < a.n_in)
#pragma unroll
      for (int g = 0; g < G; ++g)
        if (column(g) < a.d) {
          const float4 f = *reinterpret_cast<const float4*>(a.in[i] + column(g));
          v[g][0] += f.x, v[g][1] += f.y, v[g][2] += f.z, v[g][3] += f.w;
        }
  if (a.x_out)
#pragma unroll
    for (int g = 0; g < G; ++g)
      if (column(g) < a.d) *reinterpret_cast<float4*>(a.x_out + column(g)) = make_float4(v[g][0], v[g][1], v[g][2], v[g][3]);
  double ss = 0;
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int e = 0; e < 4; ++e) ss += static_cast<double>(v[g][e]) * v[g][e];
  float rstd = rsqrtf(static_cast<float>(block_all(ss, ss_scratch[0], DoubleSum{}, 0.0) / a.d) + 1e-6f);
  if (a.reductions == 3) {  // a second norm of the normed row
    ss = 0;
#pragma unroll
    for (int g = 0; g < G; ++g)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        v[g][e] *= rstd;
        ss += static_cast<double>(v[g][e]) * v[g][e];
      }
    rstd = rsqrtf(static_cast<float>(block_all(ss, ss_scratch[1], DoubleSum{}, 0.0) / a.d) + 1e-6f);
  }
#pragma unroll
  for (int t = 0; t < kMaxTargets; ++t) {
    float m = 0;
#pragma unroll
    for (int g = 0; g < G; ++g)
#pragma unroll
      for (int e = 0; e < 4; ++e) m = fmaxf(m, fabsf(v[g][e] * rstd * (1.0f + 0.1f * t)));
    m = __uint_as_float(__reduce_max_sync(0xffffffffu, __float_as_uint(m)));
    if (lane == 0) max_scratch[t][warp] = m;
  }
  __syncthreads();
  if (!a.codes) return;
#pragma unroll
  for (int t = 0; t < kMaxTargets; ++t) {
    if (t >= a.targets) break;
    if (!((a.target_mask >> t) & 1)) continue;
    const float amax = __uint_as_float(__reduce_max_sync(0xffffffffu, __float_as_uint(lane < warps ? max_scratch[t][lane] : 0.0f)));
    const float s = quant_scale(amax);
#pragma unroll
    for (int g = 0; g < G; ++g)
      if (column(g) < a.d) {
        int c[4];
#pragma unroll
        for (int e = 0; e < 4; ++e) c[e] = static_cast<int>(fminf(fmaxf(rintf(v[g][e] * rstd * (1.0f + 0.1f * t) * s), -128.f), 127.f));
        *reinterpret_cast<uint32_t*>(a.q[t] + column(g)) = pack_codes(c);
      }
  }
}

template <int G>
__global__ void row_kernel(const RowWork a) {
  pdl_allow_next();
  pdl_wait();
  if (a.work) row_work<G>(a);
}

struct ProductWork {
  const uint4* w = nullptr;  // [strips][units][32 lanes] of 16 bytes
  const int8_t* q = nullptr; // product p's codes at q + p * cols
  int cols = 0, strips_per = 0;  // strips of one product
  float* out = nullptr;      // [strips * 16]
  int strips = 0, units = 0, k_warps = 1, row_warps = 1;
  bool weights = true;       // false: no weights loaded at all
  bool work = true;          // false: the launch and the weights alone
  unsigned* counter = nullptr;  // LastBlockRows: the blocks that finished
  RowWork next;              // LastBlockRows: the next row kernel's work; OneLaunch: this group's
};

constexpr int kUnitsPerWarp = 6;  // loaded before the wait: all of a layer's (at most 5), 6 of the LM head's 10

// Dp4a of one weight unit's 16 bytes with 16 bytes of q: a product's arithmetic, roughly.
__device__ __forceinline__ int dot_unit(uint4 w, int4 q, int acc) {
  acc = __dp4a(static_cast<int>(w.x & 0x03030303u), q.x, acc);
  acc = __dp4a(static_cast<int>(w.y & 0x03030303u), q.y, acc);
  acc = __dp4a(static_cast<int>(w.z & 0x03030303u), q.z, acc);
  return __dp4a(static_cast<int>(w.w & 0x03030303u), q.w, acc);
}

// LastBlockRows: the last block to finish (an atomic counter, after a fence) does the next row
// kernel's work, so that a layer takes four launches.
template <bool LastBlockRows>
__global__ void __launch_bounds__(512, 2) product_kernel(const ProductWork a) {
  extern __shared__ int partial[];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int wr = warp / a.k_warps, wk = warp % a.k_warps;
  const int strip = blockIdx.x * a.row_warps + wr;
  const bool active = strip < a.strips;
  pdl_allow_next();
  uint4 w[kUnitsPerWarp];
  const uint4* wp = a.w + static_cast<int64_t>(strip) * a.units * 32 + lane;
#pragma unroll
  for (int i = 0; i < kUnitsPerWarp; ++i) {
    const int u = wk + i * a.k_warps;
    w[i] = active && a.weights && u < a.units ? __ldcs(wp + static_cast<int64_t>(u) * 32) : make_uint4(0, 0, 0, 0);
  }
  pdl_wait();
  if (!a.work) return;
  const int8_t* q = a.q + static_cast<int64_t>(strip / a.strips_per) * a.cols;
  int acc = 0;
#pragma unroll
  for (int i = 0; i < kUnitsPerWarp; ++i) {
    const int u = wk + i * a.k_warps;
    if (active && u < a.units) acc = dot_unit(w[i], *reinterpret_cast<const int4*>(q + u * 128 + (lane & 7) * 16), acc);
  }
  for (int u = wk + kUnitsPerWarp * a.k_warps; active && u < a.units; u += a.k_warps)  // the LM head's later units
    acc = dot_unit(a.weights ? __ldcs(wp + static_cast<int64_t>(u) * 32) : make_uint4(0, 0, 0, 0),
                   *reinterpret_cast<const int4*>(q + u * 128 + (lane & 7) * 16), acc);
  if (a.k_warps > 1) {
    partial[warp * 32 + lane] = acc;
    __syncthreads();
    if (wk == 0)
      for (int k = 1; k < a.k_warps; ++k) acc += partial[(warp + k) * 32 + lane];
  }
  if (wk == 0 && active && lane < 16) a.out[static_cast<int64_t>(strip) * 16 + lane] = static_cast<float>(acc) * 1e-3f;
  if constexpr (LastBlockRows) {
    __shared__ bool last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
      last = atomicAdd(a.counter, 1u) == gridDim.x - 1;
      if (last) *a.counter = 0;  // for the next replay
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    if (a.next.d > 12 * static_cast<int>(blockDim.x)) row_work<7>(a.next);
    else row_work<3>(a.next);
  }
}

// One BitLinear group in one launch (session 14's Z): a block of 512 threads on each SM forms the
// whole input row itself, quantises the targets its strips need into shared memory, then multiplies
// its strips (their weights loaded before the wait). Z's stores of the residual and the states by
// the last block are left out.
constexpr int kOneLaunchUnits = 9, kOneLaunchStrips = 8;  // a block's units a warp, strips (132 SMs, gate/up: 7 x 20 / 16)
__global__ void __launch_bounds__(512, 1) one_launch_kernel(const ProductWork a) {
  __shared__ __align__(16) int8_t codes[kMaxTargets][kFf];
  __shared__ int sums[kOneLaunchStrips][16];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int s0 = static_cast<int>(static_cast<int64_t>(blockIdx.x) * a.strips / gridDim.x);
  const int s1 = static_cast<int>(static_cast<int64_t>(blockIdx.x + 1) * a.strips / gridDim.x);
  const int pairs = (s1 - s0) * a.units;  // (strip, unit) pairs, warp w takes w, w + 16, ...
  pdl_allow_next();
  uint4 w[kOneLaunchUnits];
#pragma unroll
  for (int i = 0; i < kOneLaunchUnits; ++i) {
    const int p = warp + 16 * i;
    w[i] = p < pairs ? __ldcs(a.w + (static_cast<int64_t>(s0 + p / a.units) * a.units + p % a.units) * 32 + lane)
                     : make_uint4(0, 0, 0, 0);
  }
  if (threadIdx.x < kOneLaunchStrips * 16) sums[threadIdx.x / 16][threadIdx.x % 16] = 0;
  pdl_wait();
  RowWork r = a.next;
  r.x_out = nullptr;
  r.target_mask = 0;
  for (int s = s0; s < s1; ++s) r.target_mask |= 1u << (s / a.strips_per);
  for (int t = 0; t < kMaxTargets; ++t) r.q[t] = codes[t];
  row_work<4>(r);
  __syncthreads();
#pragma unroll
  for (int i = 0; i < kOneLaunchUnits; ++i) {
    const int p = warp + 16 * i;
    if (p < pairs) {
      const int sl = p / a.units, u = p % a.units;
      const int acc = dot_unit(w[i], *reinterpret_cast<const int4*>(codes[(s0 + sl) / a.strips_per] + u * 128 + (lane & 7) * 16), 0);
      if (lane < 16) atomicAdd(&sums[sl][lane], acc);
    }
  }
  __syncthreads();
  if (static_cast<int>(threadIdx.x) < (s1 - s0) * 16)
    a.out[static_cast<int64_t>(s0) * 16 + threadIdx.x] = static_cast<float>(sums[threadIdx.x / 16][threadIdx.x % 16]) * 1e-3f;
}

// The greedy token: one block's argmax over the logits (ties: the lowest index).
__global__ void __launch_bounds__(1024) argmax_kernel(const float* logits, int n, int* token, bool work) {
  __shared__ unsigned long long scratch[32];
  pdl_allow_next();
  pdl_wait();
  if (!work) return;
  unsigned long long best = 0;  // (order-preserving bits of the value, ~index): the maximum is the argmax
  for (int i = threadIdx.x * 4; i < n; i += blockDim.x * 4) {
    const float4 f = *reinterpret_cast<const float4*>(logits + i);
    const float v[4] = {f.x, f.y, f.z, f.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const unsigned b = __float_as_uint(v[e]);
      const unsigned key = b & 0x80000000u ? ~b : b | 0x80000000u;
      best = max(best, (static_cast<unsigned long long>(key) << 32) | ~static_cast<unsigned>(i + e));
    }
  }
  const auto bigger = [](unsigned long long x, unsigned long long y) { return max(x, y); };
  best = block_all(best, scratch, bigger, 0ull);
  if (threadIdx.x == 0) *token = static_cast<int>(~static_cast<unsigned>(best));
}

enum class Structure { EightLaunches, LastBlockRows, OneLaunch, NoRowKernels };

struct Variant {
  const char* name;
  Structure structure = Structure::EightLaunches;
  bool row_work = true, product_work = true, weights = true;
  int reductions = 3;
  bool codes = true;
};

struct Shape {
  int rows, cols, count;
};
// i/f/g, o, gate/up, down; the LM head
constexpr Shape kShapes[5] = {{kD, kD, 3}, {kD, kD, 1}, {kFf, kD, 2}, {kD, kFf, 1}, {kVocab, kD, 1}};

struct Model {
  DeviceBuffer<float> x{kD}, ifg{3 * kD}, h{kD}, o{kD}, gu{2 * kFf}, down{kD};
  DeviceBuffer<float> logits{kVocab};
  DeviceBuffer<int8_t> q1{3 * kD}, q2{kD}, q3{2 * kD}, q4{kFf}, q5{kD};
  DeviceBuffer<int> token{1};
  std::vector<DeviceBuffer<uint4>> weights;  // [layer * 4 + group], then the LM head's
  DeviceBuffer<unsigned> counters{kLayers * 4};
  int64_t weight_bytes = 0;
  int sms;
  explicit Model(int sm_count) : sms(sm_count) {
    for (int i = 0; i < kLayers * 4 + 1; ++i) {
      const Shape& s = kShapes[i < kLayers * 4 ? i % 4 : 4];
      weights.emplace_back(static_cast<int64_t>(s.rows) * s.cols / 4 * s.count / 16);
      weights.back().fill_bytes(0x55);
      weight_bytes += weights.back().bytes();
    }
    for (auto* b : {&x, &ifg, &h, &o, &gu, &down, &logits}) b->fill_bytes(0);
    for (auto* b : {&q1, &q2, &q3, &q4, &q5}) b->fill_bytes(1);
    counters.fill_bytes(0);
  }
  // The row work before group g: residual + norm (i/f/g), MLGRU step + gate (o), residual + norm
  // (gate/up), GLU (down); 4: residual + final norm (the LM head).
  RowWork row(int g) {
    RowWork r;
    const auto set = [&](std::initializer_list<const float*> in, float* x_out, std::initializer_list<int8_t*> q, int d,
                         int reductions) {
      for (const float* p : in) r.in[r.n_in++] = p;
      r.x_out = x_out;
      for (int8_t* p : q) r.q[r.targets++] = p;
      r.d = d;
      r.reductions = reductions;
    };
    if (g == 0) set({x.data(), down.data()}, x.data(), {q1.data(), q1.data() + kD, q1.data() + 2 * kD}, kD, 3);
    if (g == 1) set({ifg.data(), ifg.data() + kD, ifg.data() + 2 * kD, h.data()}, h.data(), {q2.data()}, kD, 3);
    if (g == 2) set({x.data(), o.data()}, x.data(), {q3.data(), q3.data() + kD}, kD, 3);
    if (g == 3) set({gu.data(), gu.data() + kFf}, nullptr, {q4.data()}, kFf, 2);
    if (g == 4) set({x.data(), down.data()}, x.data(), {q5.data()}, kD, 3);
    return r;
  }
  ProductWork product(int l, int g) {
    const Shape& s = kShapes[g];
    float* outs[5] = {ifg.data(), o.data(), gu.data(), down.data(), logits.data()};
    const int8_t* qs[5] = {q1.data(), q2.data(), q3.data(), q4.data(), q5.data()};
    ProductWork p;
    p.w = weights[g == 4 ? kLayers * 4 : l * 4 + g].data();
    p.q = qs[g];
    p.cols = s.cols;
    p.strips_per = s.rows / 16;
    p.out = outs[g];
    p.strips = s.rows / 16 * s.count;
    p.units = s.cols / 128;
    p.k_warps = auto_k_warps(p.strips, p.units, 1, 16);  // as ternary_product launches one token
    p.row_warps = std::max(1, 8 / p.k_warps);
    return p;
  }
};

void launch_row(const RowWork& r, cudaStream_t s) {
  if (r.d == kD) launch_pdl("row kernel", row_kernel<1>, dim3(1), dim3(kD / 4), 0, s, r);
  else launch_pdl("row kernel", row_kernel<2>, dim3(1), dim3(kFf / 8), 0, s, r);
}

// With p.counter set, the kernel whose last block does p.next.
void launch_product(const ProductWork& p, cudaStream_t s) {
  const int warps = p.row_warps * p.k_warps;
  const size_t shared = p.k_warps > 1 ? static_cast<size_t>(warps) * 32 * sizeof(int) : 0;
  launch_pdl("product kernel", p.counter ? product_kernel<true> : product_kernel<false>,
             dim3((p.strips + p.row_warps - 1) / p.row_warps), dim3(32 * warps), shared, s, p);
}

// A block an SM, or more where a block's strips would not fit its warps' registers or its sums.
void launch_one_launch(const ProductWork& p, int sms, cudaStream_t s) {
  const int per_block = std::min(kOneLaunchStrips, 16 * kOneLaunchUnits / p.units);
  const int blocks = std::max(sms, (p.strips + per_block - 1) / per_block);
  launch_pdl("one-launch kernel", one_launch_kernel, dim3(blocks), dim3(512), 0, s, p);
}

// Group g's row work and product (layer l; g = 4: the step's end) with the variant's parts.
RowWork row_of(Model& m, int g, const Variant& v) {
  RowWork r = m.row(g);
  r.work = v.row_work;
  r.reductions = std::min(r.reductions, v.reductions);
  r.codes = v.codes;
  return r;
}
ProductWork product_of(Model& m, int l, int g, const Variant& v) {
  ProductWork p = m.product(l, g);
  p.weights = v.weights;
  p.work = v.product_work;
  return p;
}

// The step's end, kernel by kernel in every structure: the final norm's row, the LM head, the argmax.
void enqueue_head(Model& m, const Variant& v, cudaStream_t s) {
  if (v.structure != Structure::NoRowKernels) launch_row(row_of(m, 4, v), s);
  launch_product(product_of(m, 0, 4, v), s);
  launch_pdl("argmax kernel", argmax_kernel, dim3(1), dim3(1024), 0, s, static_cast<const float*>(m.logits.data()), kVocab,
             m.token.data(), v.product_work);
}

void enqueue_step(Model& m, const Variant& v, cudaStream_t s) {
  for (int l = 0; l < kLayers; ++l)
    for (int g = 0; g < 4; ++g) {
      const RowWork r = row_of(m, g, v);
      ProductWork p = product_of(m, l, g, v);
      if (v.structure == Structure::OneLaunch) {
        p.next = r;
        launch_one_launch(p, m.sms, s);
        continue;
      }
      const bool first = l == 0 && g == 0;
      if (v.structure == Structure::EightLaunches || (v.structure == Structure::LastBlockRows && first))
        launch_row(r, s);
      if (v.structure == Structure::LastBlockRows && !(l == kLayers - 1 && g == 3)) {
        p.counter = m.counters.data() + l * 4 + g;
        p.next = m.row((g + 1) % 4);
      }
      launch_product(p, s);
    }
  enqueue_head(m, v, s);
}

int run(int argc, char** argv) {
  int device = 0, rounds = 7;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    const auto value = [&](int lo, int hi) {  // the flag's whole value, an integer in [lo, hi]
      const char* text = argv[++i];
      const char* end = text + std::strlen(text);
      int n = 0;
      const auto [at, ec] = std::from_chars(text, end, n);
      if (ec != std::errc() || at != end || n < lo || n > hi)
        throw Error(std::string(argv[i - 1]) + " takes an integer from " + std::to_string(lo) + " to " +
                    std::to_string(hi) + ", not '" + text + "'");
      return n;
    };
    if (!std::strcmp(argv[i], "--device") && has_value) device = value(0, 1023);
    else if (!std::strcmp(argv[i], "--rounds") && has_value) rounds = value(1, 1000);
    else {
      std::fprintf(stderr, "usage: mmfree_chain_floor [--device N] [--rounds R]\n");
      return 2;
    }
  }
  const DeviceInfo dev = select_device(device);
  Stream stream;
  Model m(dev.sm_count);
  const Variant variants[] = {
      {"launches alone (wait, allow)", Structure::EightLaunches, false, false, false},
      {"launches + weights before the wait", Structure::EightLaunches, false, false, true},
      {"row work, products' launches + weights", Structure::EightLaunches, true, false, true},
      {"products' work + weights, rows' launches", Structure::EightLaunches, false, true, true},
      {"the chain, products without weights", Structure::EightLaunches, true, true, false},
      {"the chain (8 launches a layer)", Structure::EightLaunches},
      {"the chain, 2 reductions a row", Structure::EightLaunches, true, true, true, 2},
      {"the chain, no codes stored", Structure::EightLaunches, true, true, true, 3, false},
      {"products alone + weights (no row work)", Structure::NoRowKernels},
      {"last product block does the row work (4)", Structure::LastBlockRows},
      {"every block forms its row (4 launches)", Structure::OneLaunch},
  };
  check(cudaFuncSetAttribute(product_kernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024), "smem");
  check(cudaFuncSetAttribute(product_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024), "smem");
  const auto destroy = [](cudaGraphExec_t e) { cudaGraphExecDestroy(e); };
  std::vector<std::unique_ptr<CUgraphExec_st, decltype(destroy)>> graphs;
  for (const Variant& v : variants)
    graphs.emplace_back(capture(stream.get(), [&] { enqueue_step(m, v, stream.get()); }), destroy);
  std::vector<std::vector<float>> us(graphs.size());
  for (int r = 0; r < rounds; ++r)  // the variants alternated, medians over the rounds
    for (size_t i = 0; i < graphs.size(); ++i) us[i].push_back(1000.0f * time_graph(graphs[i].get(), 1, stream.get(), 15));
  const ReadBandwidth probe = measure_read_bandwidth(int64_t{1} << 30, 9, stream.get());
  const double roofline_us = m.weight_bytes / (probe.gbps * 1e3);  // the step's weights at the probe's rate
  std::printf("%s (%d SMs): %d layers and the LM head, %.1f MB of weights a step; read probe %.0f GB/s: %.1f us a step\n"
              "at the roofline, %.1f us at 25%% of it; medians of %d rounds\n",
              dev.name.c_str(), dev.sm_count, kLayers, m.weight_bytes / 1e6, probe.gbps, roofline_us, 4 * roofline_us, rounds);
  std::printf("%-44s %10s %9s %9s\n", "variant", "us a step", "tokens/s", "roofline");
  for (size_t i = 0; i < graphs.size(); ++i) {
    std::sort(us[i].begin(), us[i].end());
    const float med = us[i][us[i].size() / 2];
    std::printf("%-44s %10.1f %9.0f %8.1f%%\n", variants[i].name, med, 1e6 / med,
                100.0 * roofline_us / med);
  }
  return 0;
}

}  // namespace
}  // namespace mmfree::cuda::floor

int main(int argc, char** argv) {
  try {
    return mmfree::cuda::floor::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mmfree_chain_floor: %s\n", e.what());
    return 1;
  }
}

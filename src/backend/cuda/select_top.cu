#include "backend/cuda/select_top.h"

#include <string>

#include "backend/cuda/runtime.h"

namespace mmfree::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kBins = 256;

// An order-preserving key: a larger float, a larger key. -0 is made +0 first: the host compares
// them equal (the lower id wins), so they must get one key.
__device__ __forceinline__ uint32_t key_of(float v) {
  if (v == 0.0f) v = 0.0f;
  const uint32_t u = __float_as_uint(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float value_of(uint32_t key) {
  return __uint_as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
}

// hist[bin] += 1 for each lane whose bin is below kBins, one atomic per distinct bin of the warp:
// logits crowd into a few bins (the top byte of the key), where lane-by-lane atomics would serialise.
// Called by all 32 lanes of the warp.
__device__ __forceinline__ void count(unsigned* hist, unsigned bin) {
  const unsigned peers = __match_any_sync(0xffffffffu, bin);
  if (bin < kBins && (threadIdx.x & 31) == static_cast<unsigned>(__ffs(peers) - 1)) atomicAdd(&hist[bin], __popc(peers));
}

// One row per block. Pass 0 forms every token's key (select_top_host's penalty and division, IEEE
// rounded as there) into keys and histograms its top byte; passes 1-3 narrow the threshold key
// T (the k-th largest) a byte at a time. Then the keys above T are taken, and of those equal to
// T as many as are missing, lowest ids first; a bitonic sort orders the k by (key, lower id).
__global__ void __launch_bounds__(kThreads) select_kernel(const float* __restrict__ logits, int64_t V,
                                                          const DeviceChoiceRow* __restrict__ how,
                                                          const int32_t* __restrict__ ids, int k,
                                                          uint32_t* __restrict__ keys_all, TokenChoice* __restrict__ out) {
  extern __shared__ uint32_t penalised[];  // a bit per token
  __shared__ unsigned hist[kBins];
  __shared__ unsigned long long pick[kMaxDeviceChoices];
  __shared__ unsigned taken, need, prefix, warp_count[kThreads / 32];
  const int r = blockIdx.x, tid = threadIdx.x;
  const DeviceChoiceRow h = how[r];
  const float* row = logits + r * V;
  uint32_t* keys = keys_all + r * V;
  const int words = static_cast<int>((V + 31) / 32);
  for (int w = tid; w < words; w += kThreads) penalised[w] = 0;
  for (int b = tid; b < kBins; b += kThreads) hist[b] = 0;
  __syncthreads();
  if (h.penalty != 1.0f)
    for (int i = tid; i < h.count; i += kThreads) {
      const int id = ids[h.first + i];
      atomicOr(&penalised[id >> 5], 1u << (id & 31));
    }
  __syncthreads();
  for (int64_t base = 0; base < V; base += kThreads) {  // whole warps in every iteration (count)
    const int64_t v = base + tid;
    unsigned bin = kBins;
    if (v < V) {
      float l = row[v];
      if ((penalised[v >> 5] >> (v & 31)) & 1u) l = l > 0 ? l / h.penalty : l * h.penalty;
      if (h.temperature > 0) l = l / h.temperature;
      const uint32_t key = key_of(l);
      keys[v] = key;
      bin = key >> 24;
    }
    count(hist, bin);
  }
  if (tid == 0) {
    need = static_cast<unsigned>(k);
    prefix = 0;
  }
  uint32_t mask = 0;
  for (int shift = 24;; shift -= 8) {
    __syncthreads();
    if (tid == 0) {  // the bin holding the need-th largest key of those matching the prefix so far
      unsigned above = 0;
      int b = kBins - 1;
      while (above + hist[b] < need) above += hist[b--];
      need -= above;
      prefix |= static_cast<uint32_t>(b) << shift;
    }
    mask |= 0xffu << shift;
    __syncthreads();
    if (shift == 0) break;
    for (int b = tid; b < kBins; b += kThreads) hist[b] = 0;
    __syncthreads();
    const uint32_t p = prefix;
    for (int64_t base = 0; base < V; base += kThreads) {
      const int64_t v = base + tid;
      const uint32_t key = v < V ? keys[v] : 0;
      count(hist, v < V && (key & mask) == p ? (key >> (shift - 8)) & 0xffu : kBins);
    }
  }
  const uint32_t threshold = prefix;
  const unsigned equal_needed = need, greater = static_cast<unsigned>(k) - need;
  const bool all_equal = hist[threshold & 0xffu] == equal_needed;  // every token at the threshold is taken
  if (tid == 0) taken = 0;
  __syncthreads();
  const auto entry = [](uint32_t key, int64_t v) {
    return static_cast<unsigned long long>(key) << 32 | (0xffffffffu - static_cast<uint32_t>(v));
  };
  for (int64_t v = tid; v < V; v += kThreads) {
    const uint32_t key = keys[v];
    if (key > threshold || (all_equal && key == threshold)) pick[atomicAdd(&taken, 1u)] = entry(key, v);
  }
  if (!all_equal) {  // ties at the threshold: the lowest ids, in chunks of kThreads ids taken in order
    unsigned so_far = 0;
    for (int64_t base = 0; base < V && so_far < equal_needed; base += kThreads) {
      const int64_t v = base + tid;
      const bool eq = v < V && keys[v] == threshold;
      const unsigned ballot = __ballot_sync(0xffffffffu, eq);
      if ((tid & 31) == 0) warp_count[tid >> 5] = __popc(ballot);
      __syncthreads();
      unsigned before = so_far;
      for (int w = 0; w < (tid >> 5); ++w) before += warp_count[w];
      before += __popc(ballot & ((1u << (tid & 31)) - 1u));
      if (eq && before < equal_needed) pick[greater + before] = entry(threshold, v);
      unsigned total = 0;
      for (int w = 0; w < kThreads / 32; ++w) total += warp_count[w];
      __syncthreads();
      so_far += total;
    }
  }
  // Bitonic sort of the k picks, descending, padded with zeros (below every entry) to a power of two.
  int P = 1;
  while (P < k) P *= 2;
  for (int i = k + tid; i < P; i += kThreads) pick[i] = 0;
  __syncthreads();
  for (int size = 2; size <= P; size *= 2)
    for (int stride = size / 2; stride > 0; stride /= 2) {
      for (int i = tid; i < P; i += kThreads) {
        const int j = i ^ stride;
        if (j > i) {
          const bool descending = (i & size) == 0;
          const unsigned long long a = pick[i], b = pick[j];
          if ((a < b) == descending) {
            pick[i] = b;
            pick[j] = a;
          }
        }
      }
      __syncthreads();
    }
  for (int i = tid; i < k; i += kThreads) {
    const unsigned long long e = pick[i];
    out[r * k + i] = TokenChoice{static_cast<int32_t>(0xffffffffu - static_cast<uint32_t>(e)), value_of(static_cast<uint32_t>(e >> 32))};
  }
}

}  // namespace

void select_top_rows(const float* logits, int64_t V, int rows, const DeviceChoiceRow* how, const int32_t* ids, int k,
                     uint32_t* keys, TokenChoice* out, cudaStream_t s) {
  if (rows <= 0) return;
  if (k < 1 || k > kMaxDeviceChoices || V < k || V > kMaxSelectVocab)
    throw Error("internal: cuda select_top of " + std::to_string(k) + " from " + std::to_string(V));
  const size_t shared = static_cast<size_t>((V + 31) / 32) * 4;
  static const bool raised = [] {
    check(cudaFuncSetAttribute(select_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 160 * 1024),
          "raise the shared memory limit");
    return true;
  }();
  (void)raised;
  select_kernel<<<static_cast<unsigned>(rows), kThreads, shared, s>>>(logits, V, how, ids, k, keys, out);
  check_launch("select_kernel");
}

}  // namespace mmfree::cuda

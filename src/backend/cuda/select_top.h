#pragma once
// Backend::select_top on the GPU (backend/select_top.h): one block per row finds the k most likely
// tokens by a radix select on the penalised, temperature-divided logits, so that a decode step
// sends k choices to the host instead of the whole vocabulary.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "backend/select_top.h"

namespace mmfree::cuda {

constexpr int64_t kMaxDeviceChoices = 256;        // k per row (the sampler's top_k; more: on the host)
constexpr int64_t kMaxSelectVocab = int64_t{1} << 20;  // the penalty's bitmap of the vocabulary in shared memory

// Row r's penalty: ids[first .. first + count) (distinct, in [0, V)).
struct DeviceChoiceRow {
  int32_t first = 0, count = 0;
  float penalty = 1, temperature = 0;
};

// out [rows][k] = the k most likely of logits [rows][V] under how[r], as select_top_host; keys
// [rows][V] is scratch. All pointers device memory; k <= kMaxDeviceChoices, k <= V <= kMaxSelectVocab.
void select_top_rows(const float* logits, int64_t V, int rows, const DeviceChoiceRow* how, const int32_t* ids, int k,
                     uint32_t* keys, TokenChoice* out, cudaStream_t s);

}  // namespace mmfree::cuda

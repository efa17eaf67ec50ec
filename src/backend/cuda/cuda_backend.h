#pragma once
// The CUDA backend (built with -DMMFREE_CUDA=ON): weights uploaded once in the mma16 layout (2-bit
// codes), activations quantised and products run by the kernels of elementwise.h and
// ternary_product.h on one stream. Declared without CUDA headers so that the CPU code can name it.
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace mmfree {

// N of "cuda:N" (0 for "cuda"); throws Error on anything else.
int cuda_device_index(const std::string& device);
// "cuda" or "cuda:N"; throws Error saying why when the device cannot be used.
// bf16_backward: training's backward GEMMs on bf16 operands (else FP32; cuda_train.h).
std::unique_ptr<Backend> make_cuda_backend(const std::string& device, bool bf16_backward);
// One line per visible GPU, or one line saying why there is none.
std::vector<std::string> describe_cuda_devices();

}  // namespace mmfree

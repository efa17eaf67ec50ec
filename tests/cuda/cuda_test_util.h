#pragma once
// Shared by the CUDA tests: the fixture that skips without a usable GPU (saying why), random inputs.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "backend/cuda/runtime.h"

namespace mmfree::cuda::test {

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = unavailable_reason(0);
    if (!why.empty()) GTEST_SKIP() << "CUDA tests skipped: " << why;
    select_device(0);
  }
};

inline std::vector<float> randn(int64_t count, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(count));
  for (auto& x : v) x = d(rng);
  return v;
}

// Values in {-1, 0, 1}, a third zeros on average.
inline std::vector<int8_t> random_ternary(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int8_t> v(static_cast<size_t>(count));
  for (auto& x : v) x = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
  return v;
}

template <class T>
DeviceBuffer<T> to_device(const std::vector<T>& v) {
  DeviceBuffer<T> b(static_cast<int64_t>(v.size()));
  b.upload(v.data());
  return b;
}

template <class T>
std::vector<T> to_host(const DeviceBuffer<T>& b) {
  std::vector<T> v(static_cast<size_t>(b.size()));
  b.download(v.data());
  return v;
}

}  // namespace mmfree::cuda::test

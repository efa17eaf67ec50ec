#pragma once
// The backend-ops harness (tests/test_backend_ops.cpp, tests/test_backend_train_ops.cpp): the
// backends under test, and moving test data in and out of backend memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "kernels/cpu_isa.h"

namespace mmfree::test {

struct BackendCase {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
  std::string skip_reason;  // not empty: the backend cannot run here
};

// gtest prints a parameter with this (the name), not as bytes.
inline void PrintTo(const BackendCase& c, std::ostream* os) { *os << c.name; }

inline std::vector<BackendCase> backends_under_test() {
  std::vector<BackendCase> out;
  for (Isa isa : available_isas())
    for (int threads : {1, 2})
      out.push_back({std::string("cpu_") + isa_name(isa) + "_t" + std::to_string(threads),
                     [=] { return make_backend(DeviceOptions{.device = "cpu", .threads = threads, .isa = isa_name(isa)}); }, ""});
  // Every core this machine has (a GPU machine's CPU has many more than CI's).
  out.push_back({"cpu_all_cores", [] { return make_backend(DeviceOptions{.device = "cpu", .threads = 0, .isa = ""}); }, ""});
  std::string cuda_skip;
  try {
    make_backend(DeviceOptions{.device = "cuda", .threads = 0, .isa = ""});
  } catch (const std::exception& e) {
    cuda_skip = e.what();
  }
  // Training's backward GEMMs in FP32, the host backends' precision, that the harness's bounds are
  // set for (the bf16 default has its own test in test_backend_train_ops.cpp).
  out.push_back({"cuda",
                 [] { return make_backend(DeviceOptions{.device = "cuda", .threads = 0, .isa = "", .backward_gemm = "fp32"}); },
                 cuda_skip});
  return out;
}

template <class T>
Buffer put(Backend& be, const std::vector<T>& v) {
  Buffer b = be.alloc(static_cast<int64_t>(v.size() * sizeof(T)));
  be.write(b.as<void>(), v.data(), static_cast<int64_t>(v.size() * sizeof(T)));
  return b;
}

template <class T>
std::vector<T> get(Backend& be, const Buffer& b, int64_t count) {
  std::vector<T> v(static_cast<size_t>(count));
  be.read(v.data(), b.as<void>(), count * static_cast<int64_t>(sizeof(T)));
  return v;
}

// max |got - want| / max |want|: the error against the size of the values (normwise), the measure
// for recurrences whose outputs can cancel to near zero.
inline double normwise_error(const std::vector<float>& got, const std::vector<float>& want) {
  EXPECT_EQ(got.size(), want.size());
  double worst = 0, scale = 1e-30;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    const double e = std::abs(static_cast<double>(got[i]) - want[i]);
    if (!(e <= worst)) worst = e;
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
  }
  return worst / scale;
}

}  // namespace mmfree::test

#pragma once
// How a forward pass computes: the fast kernels on an instruction set and a thread pool, or the
// plain reference kernels (single thread) that tests compare the fast ones against.
#include <memory>
#include <string>

#include "kernels/cpu_isa.h"

namespace mmfree {

class ThreadPool;

// Chosen when a model is loaded.
struct ComputeOptions {
  bool reference = false;  // the plain reference kernels (ternary_ref.h, model/ops.h)
  int threads = 0;         // 0: physical cores
  std::string isa;         // empty: the best this CPU has (else scalar, avx2, avx512, avx512vnni)
};

// What the layers see during forward: plain values, cheap to pass around.
struct ComputeContext {
  bool reference = false;
  Isa isa = best_isa();
  ThreadPool* pool = nullptr;  // null: the calling thread only
};

// Owns the thread pool an options set asks for and hands out the matching context.
class Compute {
 public:
  explicit Compute(const ComputeOptions& o = {});
  ~Compute();
  Compute(const Compute&) = delete;
  Compute& operator=(const Compute&) = delete;
  const ComputeContext& context() const { return ctx_; }

 private:
  std::unique_ptr<ThreadPool> pool_;
  ComputeContext ctx_;
};

}  // namespace mmfree

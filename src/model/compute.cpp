#include "model/compute.h"

#include "util/error.h"
#include "util/thread_pool.h"

namespace mmfree {

Compute::Compute(const ComputeOptions& o) {
  check(o.threads >= 0, "--threads must be at least 1, got " + std::to_string(o.threads));
  ctx_.reference = o.reference;
  ctx_.isa = o.isa.empty() ? best_isa() : parse_isa(o.isa);
  check(isa_available(ctx_.isa), std::string("instruction set ") + isa_name(ctx_.isa) + " is not available on this CPU");
  if (!o.reference) {
    pool_ = std::make_unique<ThreadPool>(o.threads);
    if (pool_->size() > 1) ctx_.pool = pool_.get();
  }
}

Compute::~Compute() = default;

}  // namespace mmfree

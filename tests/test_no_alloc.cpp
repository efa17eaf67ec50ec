// The decode loop allocates nothing: global operator new is replaced in the test binary by one
// that counts calls while a test asks it to. (AlignedBuffer memory comes from aligned_alloc, which
// is not counted, but it is only sized at plan time.)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "model/model.h"
#include "test_util.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
// The nothrow forms too (std::stable_sort's buffer): every form must pair with the deletes below.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p, const std::nothrow_t&) noexcept { operator delete(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { operator delete[](p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace mmfree {
namespace {

TEST(NoAllocation, DecodeStepsAllocateNothing) {
  DeviceOptions o;
  o.threads = 2;
  const auto m = Model::load(test::tiny_a(), o);
  StatePool st(*m, 1);
  Workspace ws(*m, 8);
  std::vector<float> logits(static_cast<size_t>(m->config().vocab_size));
  std::vector<int64_t> prompt = {1, 17, 33, 4, 5, 6, 7, 8};
  m->forward(prompt.data(), 1, 8, st, ws, logits.data(), false);  // plan-time work done
  int64_t next = 3;
  g_allocations = 0;
  g_counting = true;
  m->forward(prompt.data(), 1, 8, st, ws, logits.data(), false);  // a prefill within the workspace
  for (int i = 0; i < 20; ++i) {
    m->forward(&next, 1, 1, st, ws, logits.data(), false);
    next = (next * 7 + 1) % m->config().vocab_size;
  }
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0);
}

}  // namespace
}  // namespace mmfree

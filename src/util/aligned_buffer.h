#pragma once
// A fixed-size array on a 64-byte boundary (one cache line, one AVX-512 register), so that SIMD
// kernels can use aligned loads and no row straddles two lines needlessly. Zero-initialised.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

namespace mmfree {

template <class T>
class AlignedBuffer {
  static_assert(std::is_trivial_v<T>, "AlignedBuffer holds plain numbers only");

 public:
  static constexpr size_t kAlign = 64;
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t count) { resize(count); }

  // Discards the contents; the new buffer is zeroed.
  void resize(size_t count) {
    if (count == count_) return;
    data_.reset();
    count_ = 0;
    if (count == 0) return;
    const size_t bytes = (count * sizeof(T) + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, bytes);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    data_.reset(static_cast<T*>(p));
    count_ = count;
  }

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return count_; }
  T& operator[](size_t i) { return data_.get()[i]; }
  const T& operator[](size_t i) const { return data_.get()[i]; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  size_t count_ = 0;
};

}  // namespace mmfree

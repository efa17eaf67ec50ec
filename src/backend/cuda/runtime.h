#pragma once
// The CUDA runtime behind RAII types: device selection and its properties, device buffers, streams
// and events. Every failing CUDA call throws Error("cuda: <what>: <CUDA's message>").
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <utility>

#include "util/error.h"

namespace mmfree::cuda {

// Throws Error naming `what` unless e is cudaSuccess.
void check(cudaError_t e, const char* what);
// After a kernel launch: throws on a launch error (bad configuration, no kernel image for this GPU).
void check_launch(const char* kernel);

// Why CUDA cannot run here ("no CUDA driver", "no CUDA GPU", ...), or "" when device `index` is usable.
// Never throws: tests skip with this message, and `--device cuda` prints it.
std::string unavailable_reason(int index = 0);

struct DeviceInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  int64_t global_bytes = 0, l2_bytes = 0;
  int64_t shared_per_block_optin = 0;
};
// Makes device `index` current for this thread and returns its properties; throws Error with
// unavailable_reason() when it cannot be used.
DeviceInfo select_device(int index = 0);

// Device memory this process holds (every DeviceBuffer and the backends' allocations, scratch and
// library workspaces included), and the most it has held: the peak that benchmarks report.
void note_device_bytes(int64_t delta);
int64_t device_bytes_in_use();
int64_t device_bytes_peak();

// count elements of T on the device; never more than was asked (sizes checked for overflow).
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(int64_t count) { allocate(count); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }

  T* data() { return p_; }
  const T* data() const { return p_; }
  int64_t size() const { return n_; }
  int64_t bytes() const { return n_ * static_cast<int64_t>(sizeof(T)); }

  // Copies `count` elements (all when count < 0) from host memory; the bytes are on the device when
  // it returns, for work on any stream. cudaMemcpy from pageable memory returns once they are staged,
  // before its DMA lands, and a non-blocking stream is not ordered after it (issue 12: the re-layout
  // of a model's weights could read bytes the DMA had not yet written): wait for the copy.
  void upload(const T* host, int64_t count = -1) {
    check(cudaMemcpy(p_, host, bytes_of(count), cudaMemcpyHostToDevice), "copy to device");
    check(cudaStreamSynchronize(cudaStreamLegacy), "wait for the copy to device");
  }
  // Copies `count` elements to host memory, once the work that wrote them has finished (synchronise
  // the writer's stream first: this copy is not ordered after a non-blocking stream).
  void download(T* host, int64_t count = -1) const {
    check(cudaMemcpy(host, p_, bytes_of(count), cudaMemcpyDeviceToHost), "copy from device");
  }
  // Every byte set to `byte` (tests poison outputs with it) when it returns: cudaMemset of device
  // memory is asynchronous, and a non-blocking stream is not ordered after it (as upload). Without
  // the wait, on an H200 shared by three test processes, a pass's kept rows came back still poisoned.
  void fill_bytes(int byte) {
    check(cudaMemset(p_, byte, static_cast<size_t>(bytes())), "memset");
    check(cudaStreamSynchronize(cudaStreamLegacy), "wait for the memset");
  }

 private:
  void allocate(int64_t count) {
    if (count < 0 || count > INT64_MAX / static_cast<int64_t>(sizeof(T)))
      throw Error("cuda: impossible buffer size of " + std::to_string(count) + " elements");
    if (count == 0) return;
    void* p = nullptr;
    const int64_t b = count * static_cast<int64_t>(sizeof(T));
    const cudaError_t e = cudaMalloc(&p, static_cast<size_t>(b));
    if (e != cudaSuccess) {
      cudaGetLastError();  // cudaMalloc's error is not sticky; clear it for the next call
      throw Error("cuda: cannot allocate " + std::to_string(b) + " bytes on the device: " + cudaGetErrorString(e));
    }
    p_ = static_cast<T*>(p);
    n_ = count;
    note_device_bytes(b);
  }
  size_t bytes_of(int64_t count) const {
    if (count > n_) throw Error("internal: copy of " + std::to_string(count) + " elements into a buffer of " + std::to_string(n_));
    return static_cast<size_t>((count < 0 ? n_ : count) * static_cast<int64_t>(sizeof(T)));
  }
  void release() noexcept {
    if (p_) {
      cudaFree(p_);
      note_device_bytes(-bytes());
    }
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  int64_t n_ = 0;
};

// b grown to at least `count` elements (reallocated, its contents dropped, when it held fewer).
// Freeing waits for the device (cudaFree), so no queued work reads the old buffer afterwards.
template <class T>
void grow(DeviceBuffer<T>& b, int64_t count) {
  if (b.size() < count) b = DeviceBuffer<T>(count);
}

// A non-blocking stream (no implicit synchronisation with the legacy default stream).
class Stream {
 public:
  Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();
  cudaStream_t get() const { return s_; }
  void synchronize() const;

 private:
  cudaStream_t s_ = nullptr;
};

// Times device work on a stream: start(), the work, then stop_ms() (waits for the stop event).
class Timer {
 public:
  Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer();
  void start(cudaStream_t s);
  float stop_ms(cudaStream_t s);

 private:
  cudaEvent_t a_ = nullptr, b_ = nullptr;
};

}  // namespace mmfree::cuda

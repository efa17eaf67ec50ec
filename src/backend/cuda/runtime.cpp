#include "backend/cuda/runtime.h"

#include <atomic>
#include <cstdlib>
#include <string>

namespace mmfree::cuda {

namespace {
std::atomic<int64_t> g_in_use{0}, g_peak{0};
}  // namespace

void note_device_bytes(int64_t delta) {
  const int64_t now = g_in_use += delta;
  int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}
int64_t device_bytes_in_use() { return g_in_use.load(); }
int64_t device_bytes_peak() { return g_peak.load(); }

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string("cuda: ") + what + ": " + cudaGetErrorString(e));
}

bool pdl_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("MMFREE_CUDA_NO_PDL");
    return !(v && *v && std::string(v) != "0");
  }();
  return on;
}

void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

std::string unavailable_reason(int index) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaErrorNoDevice || (e == cudaSuccess && count == 0)) return "no CUDA GPU on this machine";
  if (e == cudaErrorInsufficientDriver) return "the CUDA driver is missing or older than this build's CUDA runtime";
  if (e != cudaSuccess) return std::string("CUDA cannot start: ") + cudaGetErrorString(e);
  if (index < 0 || index >= count)
    return "no CUDA device " + std::to_string(index) + " (this machine has " + std::to_string(count) + ")";
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, index) != cudaSuccess) return "cannot read the properties of CUDA device " + std::to_string(index);
  if (p.major < 8)  // mma.sync on int8 with k = 32 needs sm_80; this build carries sm_90 code and its PTX
    return "CUDA device " + std::to_string(index) + " (" + p.name + ", compute capability " + std::to_string(p.major) + "." +
           std::to_string(p.minor) + ") is older than this build supports (9.0 and newer)";
  return "";
}

DeviceInfo select_device(int index) {
  if (std::string why = unavailable_reason(index); !why.empty()) throw Error("cuda: " + why);
  check(cudaSetDevice(index), "select device");
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, index), "device properties");
  DeviceInfo d;
  d.index = index;
  d.name = p.name;
  d.cc_major = p.major;
  d.cc_minor = p.minor;
  d.sm_count = p.multiProcessorCount;
  d.global_bytes = static_cast<int64_t>(p.totalGlobalMem);
  d.l2_bytes = p.l2CacheSize;
  d.shared_per_block_optin = static_cast<int64_t>(p.sharedMemPerBlockOptin);
  return d;
}

Stream::Stream() { check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "create stream"); }
Stream::~Stream() {
  if (s_) cudaStreamDestroy(s_);
}
void Stream::synchronize() const { check(cudaStreamSynchronize(s_), "stream synchronize"); }

Timer::Timer() {
  check(cudaEventCreate(&a_), "create event");
  if (const cudaError_t e = cudaEventCreate(&b_); e != cudaSuccess) {
    cudaEventDestroy(a_);  // the destructor does not run when the constructor throws
    check(e, "create event");
  }
}
Timer::~Timer() {
  cudaEventDestroy(a_);
  cudaEventDestroy(b_);
}
void Timer::start(cudaStream_t s) { check(cudaEventRecord(a_, s), "record event"); }
float Timer::stop_ms(cudaStream_t s) {
  check(cudaEventRecord(b_, s), "record event");
  check(cudaEventSynchronize(b_), "wait for event");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, a_, b_), "event time");
  return ms;
}

}  // namespace mmfree::cuda

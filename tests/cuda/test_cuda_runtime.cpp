// Device selection errors, buffers, and the read-bandwidth probe.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cuda/bandwidth.h"
#include "cuda_test_util.h"

namespace mmfree::cuda::test {
namespace {

TEST(CudaRuntime, MissingDeviceIsOneClearError) {
  // Runs everywhere: without a GPU the message is the reason; with one, device 999 does not exist.
  try {
    select_device(999);
    FAIL() << "select_device(999) returned";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("cuda: ", 0), 0u) << msg;
    EXPECT_EQ(msg, "cuda: " + unavailable_reason(999));
    EXPECT_FALSE(unavailable_reason(999).empty());
  }
}

using CudaBuffers = CudaTest;

TEST_F(CudaBuffers, RoundTripAndRefusals) {
  const std::vector<int32_t> v = {1, -2, 3, 1 << 30};
  DeviceBuffer<int32_t> b = to_device(v);
  EXPECT_EQ(to_host(b), v);
  DeviceBuffer<int32_t> moved = std::move(b);
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(to_host(moved), v);
  std::vector<int32_t> big(8);
  EXPECT_THROW(moved.upload(big.data(), 8), Error);  // more than the buffer holds
  EXPECT_THROW(DeviceBuffer<int32_t>(-1), Error);
  EXPECT_THROW(DeviceBuffer<int64_t>(INT64_MAX / 4), Error);  // bytes overflow int64
  try {
    DeviceBuffer<uint8_t> huge(int64_t{1} << 50);  // 1 PiB: cudaMalloc refuses
    FAIL() << "allocated 1 PiB";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot allocate"), std::string::npos) << e.what();
  }
  DeviceBuffer<int32_t> after(4);  // the failed allocation left no sticky error behind
  after.upload(v.data());
  EXPECT_EQ(to_host(after), v);
}

using CudaProbe = CudaTest;

TEST_F(CudaProbe, ReadBandwidthIsPlausible) {
  Stream s;
  const ReadBandwidth r = measure_read_bandwidth(int64_t{512} << 20, 5, s.get());
  EXPECT_EQ(r.bytes, int64_t{512} << 20);
  // Any GPU this build runs on (sm_90 and newer) reads well over 100 GB/s, and no memory reads
  // 50 TB/s: a probe outside this range timed nothing or skipped its reads.
  EXPECT_GT(r.gbps, 100.0);
  EXPECT_LT(r.gbps, 50000.0);
  std::printf("read probe: %.0f GB/s (%.3f ms for %lld MiB)\n", r.gbps, r.median_ms, static_cast<long long>(r.bytes >> 20));
}

}  // namespace
}  // namespace mmfree::cuda::test

// Inputs crafted to break the engine (issue 16): each must get one clear error, exit 1, no signal,
// within seconds and in under 300 MB (test::clean_failure), never a crash or a huge allocation.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "message_checks.h"
#include "test_util.h"

namespace mmfree {
namespace {

// A safetensors file with this exact JSON header and these data bytes.
void write_raw_safetensors(const std::string& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << data;
}

// The shape product 7 * 7905747460161236407 wraps to 1 in 64 bits; with 8 bytes of data the file
// once passed the size check and logits, grads and train wrote past a 1-row workspace.
TEST(Hardening, SafetensorsShapeProductOverflowIsRefused) {
  test::TempDir dir;
  const std::string f = dir.file("wrap.safetensors");
  write_raw_safetensors(f, R"({"input_ids":{"dtype":"I64","shape":[7,7905747460161236407],"data_offsets":[0,8]}})",
                        std::string(8, '\0'));
  const std::string why = "tensor 'input_ids': shape [7, 7905747460161236407] of I64 needs more than 2^63 bytes";
  EXPECT_TRUE(test::clean_failure(
      test::run_mmfree_limited("logits --model " + test::tiny_a() + " --input " + f + " --output " + dir.file("o"), 60),
      {f, why}));
  EXPECT_TRUE(test::clean_failure(
      test::run_mmfree_limited("grads --model " + test::tiny_a() + " --input " + f + " --output " + dir.file("o"), 60),
      {f, why}));
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("train --init-from " + test::tiny_a() + " --batch-file " + f +
                                                               " --steps 1 --out " + dir.file("run"),
                                                           60),
                                  {f, why}));
  // A byte count (not the element count) that wraps: 2^61 F32 elements need 2^63 bytes.
  write_raw_safetensors(f, R"({"input_ids":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,0]}})", "");
  EXPECT_TRUE(test::clean_failure(
      test::run_mmfree_limited("logits --model " + test::tiny_a() + " --input " + f + " --output " + dir.file("o"), 60),
      {f, "tensor 'input_ids': shape [2305843009213693952] of F32 needs more than 2^63 bytes"}));
  // An empty tensor whose other dimensions multiply past 2^63 is refused too.
  write_raw_safetensors(f, R"({"input_ids":{"dtype":"I64","shape":[0,4611686018427387904,4],"data_offsets":[0,0]}})", "");
  EXPECT_TRUE(test::clean_failure(
      test::run_mmfree_limited("logits --model " + test::tiny_a() + " --input " + f + " --output " + dir.file("o"), 60),
      {f, "needs more than 2^63 bytes"}));
}

}  // namespace
}  // namespace mmfree

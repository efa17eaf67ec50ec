// mmfree grads, end to end, and its error messages.
#include <gtest/gtest.h>

#include <cmath>

#include "format/safetensors.h"
#include "test_util.h"

namespace mmfree {
namespace {

std::string grads_args(const std::string& model, const std::string& input, const std::string& output) {
  return "grads --model " + model + " --input " + input + " --output " + output;
}

std::string write_ids(const test::TempDir& tmp, const std::string& name, std::vector<int64_t> shape,
                      const std::vector<int64_t>& ids, const std::string& tensor = "input_ids") {
  SafetensorsWriter w;
  w.add(tensor, DType::I64, std::move(shape), ids.data(), ids.size() * sizeof(int64_t));
  w.write(tmp.file(name));
  return tmp.file(name);
}

TEST(TrainGradsCli, WritesLossAndEveryGradient) {
  test::TempDir tmp;
  const std::string out = tmp.file("g.safetensors");
  auto r = test::run_mmfree(grads_args(test::tiny_a(), test::tiny_a() + "/golden.safetensors", out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  SafetensorsFile got(out), want(test::tiny_a() + "/grads.safetensors"),
      golden(test::tiny_a() + "/golden.safetensors");
  const TensorView& loss = got.get("loss");
  EXPECT_TRUE(loss.shape.empty());
  const double want_loss = golden.get("train_losses").to_f32()[0];
  EXPECT_LE(std::fabs(loss.to_f32()[0] - want_loss) / want_loss, 1e-5);
  EXPECT_EQ(got.tensors().size(), want.tensors().size() + 1);
  for (const auto& [name, view] : want.tensors()) {
    const TensorView& g = got.get(name);
    EXPECT_EQ(g.dtype, DType::F32) << name;
    ASSERT_EQ(g.shape, view.shape) << name;
    const auto a = g.to_f32(), b = view.to_f32();
    double num = 0, den = 0;
    for (size_t k = 0; k < a.size(); ++k) num += (a[k] - b[k]) * (a[k] - b[k]), den += b[k] * b[k];
    // As TrainGolden.StepZeroLossAndGradients (the same computation): measured worst 7.6e-4.
    EXPECT_LE(std::sqrt(num / den), 3e-3) << name;
  }
}

TEST(TrainGradsCli, BadInputsGetOneClearMessage) {
  test::TempDir tmp;
  const std::string out = tmp.file("g.safetensors");
  struct Bad {
    std::string input, message;
  };
  const std::vector<Bad> cases = {
      {write_ids(tmp, "short.safetensors", {2, 1}, {1, 2}), "B >= 1 and T >= 2"},
      {write_ids(tmp, "flat.safetensors", {4}, {1, 2, 3, 4}), "must have shape [B, T]"},
      {write_ids(tmp, "range.safetensors", {1, 3}, {1, 2, 600}), "input_ids holds 600 at index 2, outside the vocabulary"},
      {write_ids(tmp, "name.safetensors", {1, 3}, {1, 2, 3}, "ids"), "input_ids"},
      {tmp.file("absent.safetensors"), "absent.safetensors"},
  };
  for (const Bad& b : cases) {
    auto r = test::run_mmfree(grads_args(test::tiny_a(), b.input, out));
    EXPECT_EQ(r.exit_code, 1) << b.input;
    EXPECT_NE(r.err.find("mmfree: error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(b.message), std::string::npos) << r.err;
  }
  auto r = test::run_mmfree(grads_args(tmp.file("nomodel"), test::tiny_a() + "/golden.safetensors", out));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nomodel: not a model"), std::string::npos) << r.err;
  r = test::run_mmfree("grads --model " + test::tiny_a());
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace
}  // namespace mmfree

// mmfree grads: the loss and the gradient of every parameter for one batch, for comparing a
// training run with another implementation (PyTorch) when it looks wrong.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "format/safetensors.h"
#include "cli/inputs.h"
#include "train/trainable_model.h"
#include "util/error.h"

namespace mmfree::cli {
namespace {

struct GradsOptions {
  std::string model, input, output;
  DeviceOptions device;
};

void run(const GradsOptions& o) {
  TrainableModel m = TrainableModel::from_checkpoint(o.model, o.device);
  const int64_t V = m.config().vocab_size;
  SafetensorsFile in(o.input);
  const TensorView& t = in.get("input_ids");
  check(t.shape.size() == 2 && t.shape[0] > 0 && t.shape[1] >= 2,
        o.input + ": tensor 'input_ids' must have shape [B, T] with B >= 1 and T >= 2 (labels are the inputs shifted "
                  "left), got " + t.shape_str());
  check(t.dtype == DType::I64 || t.dtype == DType::I32,
        o.input + ": tensor 'input_ids' has dtype " + dtype_name(t.dtype) + ", expected I64 or I32");
  const int64_t B = t.shape[0], T = t.shape[1];
  std::vector<int32_t> ids;
  ids.reserve(static_cast<size_t>(B * T));
  for (int64_t id : t.to_i64()) {
    if (id < 0 || id >= V)  // not check(): no message built per token
      throw Error(o.input + ": input_ids holds " + std::to_string(id) + " at index " + std::to_string(ids.size()) +
                  ", outside the vocabulary [0, " + std::to_string(V) + ")");
    ids.push_back(static_cast<int32_t>(id));
  }
  const double loss = m.forward_backward(ids.data(), B, T);
  m.arena().download();

  SafetensorsWriter w;
  for (const auto& p : m.params()) w.add_f32(p.name, p.shape, p.grad);
  const float loss_f32 = static_cast<float>(loss);
  w.add("loss", DType::F32, {}, &loss_f32, sizeof loss_f32);
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", loss);
  w.set_metadata("loss", text);
  w.set_metadata("labelled_positions", std::to_string(labelled_positions(B, T)));
  w.write(o.output);
  std::printf("loss %.9g over %lld labelled positions; %zu gradients written to %s\n", loss,
              static_cast<long long>(labelled_positions(B, T)), m.params().size(), o.output.c_str());
}

void setup(CLI::App& app) {
  auto o = std::make_shared<GradsOptions>();
  auto* cmd = app.add_subcommand(
      "grads", "Write the loss and every parameter's gradient (F32, checkpoint names) for a batch of token ids");
  cmd->add_option("--model", o->model, "Model directory (Hugging Face layout)")->required();
  add_device_options(cmd, o->device);
  add_backward_gemm_option(cmd, o->device.backward_gemm);
  cmd->add_option("--input", o->input,
                  "safetensors file holding input_ids [B,T] (I64 or I32); labels are the inputs shifted left, the "
                  "last position of each row unlabelled")
      ->required();
  cmd->add_option("--output", o->output, "safetensors file to write: one tensor per parameter, plus the scalar 'loss'")
      ->required();
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli

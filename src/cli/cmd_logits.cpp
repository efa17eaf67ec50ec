// mmfree logits: the full-sequence logits of a batch of token ids, for checking against other
// implementations.
#include <memory>

#include "cli/command.h"
#include "cli/default_model.h"
#include "cli/inputs.h"
#include "format/safetensors.h"
#include "model/model.h"
#include "util/error.h"

namespace mmfree::cli {
namespace {

struct LogitsOptions {
  std::string model, input, output;
  DeviceOptions device;
};

void run(const LogitsOptions& o) {
  auto model = Model::load(o.model, o.device);
  const ModelConfig& c = model->config();
  SafetensorsFile in(o.input);
  const TensorView& t = in.get("input_ids");
  check(t.shape.size() == 2 && t.shape[0] > 0 && t.shape[1] > 0,
        o.input + ": tensor 'input_ids' must have shape [B, T] with B, T > 0, got " + t.shape_str());
  check(t.dtype == DType::I64 || t.dtype == DType::I32,
        o.input + ": tensor 'input_ids' has dtype " + dtype_name(t.dtype) + ", expected I64 or I32");
  const auto ids = t.to_i64();
  const int64_t B = t.shape[0], T = t.shape[1], V = c.vocab_size;
  for (size_t i = 0; i < ids.size(); ++i)
    check(ids[i] >= 0 && ids[i] < V, o.input + ": input_ids holds " + std::to_string(ids[i]) + " at index " +
                                         std::to_string(i) + ", outside the vocabulary [0, " + std::to_string(V) + ")");
  StatePool st(*model, B);
  Workspace ws(*model, B * T);
  std::vector<float> logits(static_cast<size_t>(B * T * V));
  model->forward(ids.data(), B, T, st, ws, logits.data(), true);
  SafetensorsWriter w;
  w.add_f32("logits", {B, T, V}, logits);
  w.write(o.output);
}

void setup(CLI::App& app) {
  auto o = std::make_shared<LogitsOptions>();
  auto* cmd = app.add_subcommand("logits", "Write the logits [B,T,V] (F32) of the token ids in a safetensors file");
  add_model_option(cmd, o->model);
  cmd->add_option("--input", o->input, "safetensors file holding input_ids [B,T] (I64 or I32)")->required();
  cmd->add_option("--output", o->output, "safetensors file to write, tensor 'logits'")->required();
  add_device_options(cmd, o->device);
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli

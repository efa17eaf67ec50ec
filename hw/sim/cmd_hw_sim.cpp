// mmfree hw-sim: a model decoded on the simulated accelerator core (every block and the LM head
// on the core; the embedding row and greedy sampling on the CPU), or the cycles of one block and
// the head of one of the paper's sizes. docs/HARDWARE.md. Linked into `mmfree` only where
// Verilator is installed (hw/CMakeLists.txt); cmd_hw_sim_absent.cpp stands in otherwise.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <memory>
#include <sstream>

#include "cli/command.h"
#include "core_sim.h"
#include "hw_model.h"
#include "model/random_model.h"
#include "util/error.h"

namespace mmfree::hw {
namespace {

struct Options {
  std::string model, preset, prompt_ids;
  int64_t n = 16;
  double clock_mhz = 200, bandwidth_gbs = 0;  // 0: one beat per cycle
  bool json = false;
};

// The memory's bytes per cycle as num / den (den 0: unlimited, one beat per cycle).
void set_bandwidth(CoreSim& core, const Options& o) {
  if (o.bandwidth_gbs <= 0) return;
  const double per_cycle = o.bandwidth_gbs * 1e3 / o.clock_mhz;
  if (per_cycle >= kLanes / 4) return;
  core.set_bandwidth(static_cast<uint16_t>(std::max(1.0, std::round(per_cycle * 100))), 100);
}

std::vector<int64_t> parse_ids(const std::string& s) {
  std::istringstream in(s);
  std::vector<int64_t> ids;
  std::string tok;
  while (in >> tok) {
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(tok, &used);
    } catch (const std::exception&) {
    }
    if (used != tok.size() || v < 0) throw Error("--prompt-ids: '" + tok + "' is not a token id");
    ids.push_back(v);
  }
  if (ids.empty()) throw Error("--prompt-ids: no token ids");
  return ids;
}

void print(const Options& o, nlohmann::json j) {
  const double cycles = j["cycles_per_token"].get<double>();
  j["clock_mhz"] = o.clock_mhz;
  j["tokens_per_s"] = o.clock_mhz * 1e6 / cycles;
  if (o.json) {
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  for (auto it = j.begin(); it != j.end(); ++it) std::printf("%-24s %s\n", it.key().c_str(), it.value().dump().c_str());
}

void decode(const Options& o) {
  const auto prompt = parse_ids(o.prompt_ids);
  if (o.n < 1) throw Error("-n must be at least 1");
  CoreSim core;
  set_bandwidth(core, o);
  HwModel hw(open_weight_source(o.model), core);
  std::vector<float> logits;
  for (int64_t id : prompt) logits = hw.step(id);
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < o.n; ++i) {
    ids.push_back(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (i + 1 < o.n) logits = hw.step(ids.back());
  }
  const auto steps = static_cast<int64_t>(prompt.size()) + o.n - 1;
  print(o, {{"ids", ids},
            {"cycles_per_token", hw.cycles() / steps},
            {"weight_bytes_per_token", hw.weight_bytes_per_token()},
            {"param_bytes_per_token", hw.param_bytes_per_token()}});
}

// One block and the head of a preset's shape: the core's timing does not depend on the values.
void preset_cycles(const Options& o) {
  const ModelConfig c = preset_config(o.preset);
  const BlockLayout L(c.hidden_size, c.intermediate_size, kLanes);
  CoreSim core;
  set_bandwidth(core, o);
  const int64_t block_beats = L.matrix_base(BlockLayout::kMatrices), head_beats = c.vocab_size * c.hidden_size / kLanes;
  core.set_weights(std::vector<uint8_t>(static_cast<size_t>((block_beats + head_beats) * (kLanes / 4)), 0x66));
  core.write_params(0, std::vector<int32_t>(static_cast<size_t>(L.param_words()), 1 << 23));
  std::vector<int64_t> x(static_cast<size_t>(L.d));
  for (size_t i = 0; i < x.size(); ++i) x[i] = to_v24(std::sin(0.1 * static_cast<double>(i)));
  core.write_vectors(L.x(), x);
  float s_w[BlockLayout::kMatrices];
  std::fill(std::begin(s_w), std::end(s_w), 30.0f);
  const auto prog = block_program(L, s_w);
  core.load_program(prog);
  const int64_t block = core.run();
  // cycles of the block by op
  const char* const names[] = {"end", "norm", "quant", "tmv", "mlgru", "silu_mul", "add"};
  nlohmann::json by_op = nlohmann::json::object();
  for (size_t i = 0; i < core.profile().size() && i < prog.size(); ++i) {
    const char* name = names[static_cast<int>(prog[i].op)];
    by_op[name] = by_op.value(name, int64_t{0}) + core.profile()[i];
  }
  core.load_program(head_program(L, c.vocab_size, 30.0f, static_cast<uint32_t>(block_beats)));
  const int64_t head = core.run();
  const int64_t per_token = c.num_layers * block + head;
  const int64_t beats = c.num_layers * block_beats + head_beats;
  print(o, {{"preset", o.preset},
            {"lanes", kLanes},
            {"cycles_per_block", block},
            {"block_cycles_by_op", by_op},
            {"cycles_head", head},
            {"cycles_per_token", per_token},
            {"weight_beats_per_token", beats},
            {"weight_bytes_per_token", beats * (kLanes / 4)},
            {"param_bytes_per_token", (L.param_words() * c.num_layers + 2 * c.hidden_size) * 4},
            {"beat_share_of_cycles", static_cast<double>(beats) / static_cast<double>(per_token)}});
}

void setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("hw-sim", "Run a model on the simulated MatMul-free accelerator core (docs/HARDWARE.md)");
  auto* model = cmd->add_option("--model", o->model, "A model (.gguf or Hugging Face directory) to decode greedily");
  auto* preset = cmd->add_option("--preset", o->preset, "Only the cycles of one block and the head: 370M, 1.3B or 2.7B");
  model->excludes(preset);
  cmd->add_option("--prompt-ids", o->prompt_ids, "With --model: the prompt's token ids, e.g. \"1 415 2936\"");
  cmd->add_option("-n", o->n, "With --model: tokens to generate")->capture_default_str();
  cmd->add_option("--clock-mhz", o->clock_mhz, "Clock for tokens/s")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--bandwidth-gbs", o->bandwidth_gbs, "Weight memory bandwidth in GB/s (default: one beat per cycle)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", o->json, "One JSON object: ids, cycles_per_token, weight_bytes_per_token, ...");
  cmd->callback([o] {
    if (!o->preset.empty()) {
      preset_cycles(*o);
    } else {
      if (o->model.empty() || o->prompt_ids.empty()) throw Error("hw-sim: give --model and --prompt-ids, or --preset");
      decode(*o);
    }
  });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::hw

#pragma once
// Training checkpoints: one safetensors file holding everything a run needs to continue bit-exactly:
// the parameters ("param.<name>"), the AdamW moments ("adam_m.<name>", "adam_v.<name>"), all F32,
// and in the metadata the step, the model config, the data-loader state and the run's options.
// Written atomically (temp file, fsync, rename), so a crash mid-write leaves the previous one intact.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "format/safetensors.h"
#include "model/config.h"
#include "train/adamw.h"
#include "train/batch_loader.h"
#include "model/parameters.h"

namespace mmfree {

struct CheckpointMeta {
  ModelConfig config;
  int64_t step = 0;          // optimizer updates completed
  int64_t adam_steps = 0;    // AdamW's t (bias corrections)
  double elapsed_s = 0;      // training time so far, for the log
  LoaderState loader;
  nlohmann::json options = nlohmann::json::object();  // the run's settings
};

void write_checkpoint(std::ostream& out, const std::vector<Parameter>& params, const AdamW& opt,
                      const CheckpointMeta& meta);
// Replaces the file at path only once the new one has been read back and found whole and finite.
void save_checkpoint(const std::string& path, const std::vector<Parameter>& params, const AdamW& opt,
                     const CheckpointMeta& meta);

// An open checkpoint: the metadata parsed and validated, the tensors mapped.
class Checkpoint {
 public:
  explicit Checkpoint(const std::string& path);
  static bool looks_like_checkpoint(const std::string& path);  // a file whose metadata says so

  const CheckpointMeta& meta() const { return meta_; }
  const std::string& path() const { return file_.path(); }
  // Copies the parameters (and the moments, when opt is given) into params / opt, checking the
  // config and every name and shape.
  void restore(const ModelConfig& config, std::vector<Parameter>& params, AdamW* opt) const;
  // Throws Error unless this file holds exactly `meta`'s model and step and these values, all
  // finite: how save_checkpoint verifies a new checkpoint before it replaces the previous one.
  void check_holds(const CheckpointMeta& meta, const std::vector<Parameter>& params, const AdamW& opt) const;

 private:
  SafetensorsFile file_;
  CheckpointMeta meta_;
};

// "" when the two configs describe the same model, else the first difference, e.g.
// "hidden_size 128 vs 256".
std::string config_difference(const ModelConfig& a, const ModelConfig& b);

}  // namespace mmfree

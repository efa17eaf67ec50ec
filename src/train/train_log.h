#pragma once
// The JSONL training log: one JSON object a line, flushed as written. Train rows
// {"step","loss","lr","grad_norm","tokens","tokens_per_s","elapsed_s"} and validation rows
// {"step","val_loss","val_ppl"}; "step" counts the updates done before the row's weights.
#include <cstdint>
#include <fstream>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace mmfree {

class TrainLog {
 public:
  // A new run empties the file; a resumed one (resume_step >= 0) keeps the rows of steps before
  // resume_step and drops the later ones, which the resumed run writes again.
  TrainLog(const std::string& path, int64_t resume_step);
  void write(const nlohmann::json& row);

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace mmfree

#include "train/train_log.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "util/atomic_write.h"
#include "util/error.h"

namespace mmfree {

TrainLog::TrainLog(const std::string& path, int64_t resume_step) : path_(path) {
  std::string kept;
  if (resume_step >= 0 && std::filesystem::exists(path)) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      const auto row = nlohmann::json::parse(line, nullptr, false);
      if (!row.is_discarded() && row.is_object() && row.contains("step") && row["step"].is_number_integer() &&
          row["step"].get<int64_t>() < resume_step)
        kept += line + "\n";
    }
  }
  write_file_atomically(path, [&](std::ostream& out) { out << kept; });
  out_.open(path, std::ios::app);
  check(static_cast<bool>(out_), "--log: cannot open " + path + " for writing");
}

void TrainLog::write(const nlohmann::json& row) {
  out_ << row.dump() << "\n";
  out_.flush();
  check(static_cast<bool>(out_), "--log: cannot write to " + path_ + " (disk full?)");
}

}  // namespace mmfree

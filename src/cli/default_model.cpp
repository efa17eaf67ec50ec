#include "cli/default_model.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "util/error.h"

namespace mmfree::cli {

std::string default_model_path() {
  if (const char* env = std::getenv("MMFREE_MODEL"); env != nullptr && *env != '\0') {
    check(std::filesystem::exists(env), std::string("MMFREE_MODEL=") + env + ": no such file or directory");
    return env;
  }
  std::vector<std::filesystem::path> places;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto prefix = exe.parent_path().parent_path();
    places.push_back(prefix / "share" / "mmfree" / "default.gguf");  // installed: PREFIX/bin/mmfree
    places.push_back(prefix / "models" / "default.gguf");            // built: SOURCE/build/mmfree
  }
  places.push_back(std::filesystem::path(MMFREE_SOURCE_DIR) / "models" / "default.gguf");
  std::string looked;
  for (const auto& p : places) {
    if (std::filesystem::is_regular_file(p)) return p.lexically_normal().string();
    looked += (looked.empty() ? "" : ", ") + p.lexically_normal().string();
  }
  throw Error("no --model given and the default model is not where it ships (looked at " + looked +
              "); pass --model or set MMFREE_MODEL");
}

void add_model_option(CLI::App* cmd, std::string& model) {
  cmd->add_option("--model", model,
                  "Model: a Hugging Face directory or a converted .gguf file (default: models/default.gguf, "
                  "the model mmfree ships; or $MMFREE_MODEL)");
  cmd->parse_complete_callback([&model] {
    if (model.empty()) model = default_model_path();
  });
}

}  // namespace mmfree::cli

#include "cli/inputs.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/default_model.h"
#include "util/error.h"

namespace mmfree::cli {

std::vector<int64_t> parse_ids(const std::string& s, int64_t vocab, const std::string& flag) {
  std::string spaced = s;
  for (char& c : spaced)
    if (c == ',' || c == '[' || c == ']') c = ' ';
  std::vector<int64_t> ids;
  std::istringstream in(spaced);
  std::string tok;
  while (in >> tok) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(tok, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    check(used == tok.size(), flag + ": '" + tok + "' is not a token id");
    check(v >= 0 && v < vocab, flag + ": id " + tok + " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    ids.push_back(v);
  }
  return ids;
}

std::string read_text_file(const std::string& path) {
  std::stringstream s;
  if (path == "-") {
    s << std::cin.rdbuf();
  } else {
    // A directory opens as a stream that reads nothing: it would pass as an empty text.
    check(!std::filesystem::is_directory(path), path + ": is a directory, not a text file");
    std::ifstream in(path, std::ios::binary);
    check(static_cast<bool>(in), path + ": cannot open");
    s << in.rdbuf();
    check(!in.bad(), path + ": read error");
  }
  return s.str();
}

void TokenizerSource::add_options(CLI::App* cmd) {
  auto* group = cmd->add_option_group("tokenizer", "Where the tokenizer is (at most one of; default: the default model's)");
  group->add_option("--model", model, "Model: a directory holding tokenizer.json or tokenizer.model, or a .gguf file");
  group->add_option("--tokenizer", tokenizer, "A tokenizer.json, a tokenizer.model, or a directory holding one");
  group->require_option(0, 1);
}

std::unique_ptr<Tokenizer> TokenizerSource::open() const {
  if (!tokenizer.empty()) return load_tokenizer(tokenizer);
  return load_tokenizer(model.empty() ? default_model_path() : model);
}

void add_parse_special_flag(CLI::App* cmd, bool& parse_special) {
  cmd->add_flag("--parse-special,!--no-parse-special", parse_special,
                "Special tokens written in the text (\"<s>\") are read as such, as the Hugging Face tokenizer does "
                "(the default); --no-parse-special reads them as plain text");
}

void add_backward_gemm_option(CLI::App* cmd, std::string& backward_gemm) {
  cmd->add_option("--backward-gemm", backward_gemm,
                  "Precision of training's backward GEMMs: bf16 (cuda's default: operands rounded to bf16, float sums) "
                  "or fp32 (the only one of cpu and ref)")
      ->check(CLI::IsMember({"bf16", "fp32"}));
}

void add_device_options(CLI::App* cmd, DeviceOptions& device) {
  cmd->add_option("--device", device.device, "Where to compute: cpu (default), ref (the plain reference formulas), cuda, cuda:N");
  cmd->add_option("--threads", device.threads, "Threads of the cpu device (default: physical cores)")->check(CLI::Range(1, 1024));
}

}  // namespace mmfree::cli

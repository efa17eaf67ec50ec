#pragma once
// What several commands read from their flags: token id lists, text from a file or stdin, and a
// tokenizer named by --model or --tokenizer.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "tokenizer/tokenizer.h"

namespace mmfree::cli {

// "1 2 3", "1,2,3" or "[1, 2, 3]"; each id must lie in [0, vocab). `flag` names the source in errors.
std::vector<int64_t> parse_ids(const std::string& s, int64_t vocab, const std::string& flag);

// The whole file, or all of stdin for "-"; throws Error naming the file.
std::string read_text_file(const std::string& path);

// --no-parse-special (and --parse-special, the default): whether "<s>" written in the text is the
// special token, as the Hugging Face tokenizer reads it by default, or plain text.
void add_parse_special_flag(CLI::App* cmd, bool& parse_special);

// --device and --threads for every command that runs the model: the backend, and the CPU
// backend's thread pool (default: physical cores).
void add_device_options(CLI::App* cmd, DeviceOptions& device);
// --backward-gemm bf16|fp32 (DeviceOptions::backward_gemm) for the commands that train.
void add_backward_gemm_option(CLI::App* cmd, std::string& backward_gemm);

// --model DIR | --tokenizer PATH, exactly one of them.
struct TokenizerSource {
  std::string model, tokenizer;
  void add_options(CLI::App* cmd);
  std::unique_ptr<Tokenizer> open() const;
};

}  // namespace mmfree::cli

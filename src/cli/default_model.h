#pragma once
// The model every command uses when it is given no --model: the one the project trains and ships,
// models/default.gguf (docs/MODEL.md), or the file the environment variable MMFREE_MODEL names.
#include <CLI/CLI.hpp>
#include <string>

namespace mmfree::cli {

// $MMFREE_MODEL when set; else share/mmfree/default.gguf beside the binary's folder (installed:
// PREFIX/bin/mmfree), models/default.gguf there (build/mmfree -> models/), or in the source tree the
// binary was built from. Throws Error naming where it looked.
std::string default_model_path();

// --model for a command that takes a Hugging Face directory or a .gguf file; left out, the default model.
void add_model_option(CLI::App* cmd, std::string& model);

}  // namespace mmfree::cli

#pragma once
// The --weights and --embeddings flags that convert and init share.
#include <CLI/CLI.hpp>
#include <string>

#include "format/model_gguf_writer.h"

namespace mmfree::cli {

struct ModelFileFlags {
  std::string weights = "tq2_0_r8";
  std::string embeddings;  // empty: the command's default
};

void add_model_file_flags(CLI::App* cmd, ModelFileFlags& f, const std::string& embeddings_default);
// default_embeddings applies when --embeddings was not given.
ModelFileOptions model_file_options(const ModelFileFlags& f, GgmlType default_embeddings, std::string name);

// One line on what was written: size, ternary types and bits per weight, embedding type.
void print_written_model(const std::string& path, double seconds);

}  // namespace mmfree::cli

// mmfree convert: a Hugging Face checkpoint, or a .gguf model file, to one .gguf model file
// (docs/FORMATS.md).
#include <chrono>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "cli/model_file_flags.h"
#include "format/float_codec.h"
#include "model/convert_hf.h"

namespace mmfree::cli {
namespace {

struct ConvertOptions {
  std::string model, out;
  ModelFileFlags file;
};

std::string directory_name(const std::string& dir) {
  const auto p = std::filesystem::absolute(dir).lexically_normal();
  return (p.has_filename() ? p.filename() : p.parent_path().filename()).string();
}

void run(const ConvertOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (std::filesystem::is_regular_file(o.model)) {  // a converted file, written again
    const ModelGguf in(o.model);
    const std::string name = std::filesystem::path(o.model).stem().string();  // when the file has no general.name
    convert_gguf_to_gguf(in, o.out, model_file_options(o.file, in.embeddings().type(), name));
    print_written_model(o.out, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return;
  }
  const HfCheckpoint ck(o.model);
  const GgmlType own = float_storage_of(ck.tensor("model.embeddings.weight").dtype);
  convert_hf_to_gguf(ck, o.out, model_file_options(o.file, own, directory_name(o.model)));
  print_written_model(o.out, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void setup(CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  auto* cmd = app.add_subcommand("convert", "Convert a Hugging Face checkpoint (or re-pack a .gguf model file) to one .gguf model file");
  cmd->add_option("--model", o->model,
                  "Model directory (Hugging Face layout: config.json + safetensors), or a .gguf model file to write again "
                  "in another --weights layout or --embeddings type")
      ->required();
  cmd->add_option("--out", o->out, "The .gguf file to write (atomically)")->required();
  add_model_file_flags(cmd, o->file, "the input's own type");
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli

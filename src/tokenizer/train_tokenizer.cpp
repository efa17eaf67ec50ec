#include "tokenizer/train_tokenizer.h"

#include <sentencepiece_trainer.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "util/atomic_write.h"
#include "util/error.h"

namespace mmfree {

namespace {

// Feeds the trainer the lines of every input file in turn.
class FileLines : public sentencepiece::SentenceIterator {
 public:
  explicit FileLines(const std::vector<std::string>& files) : files_(files) { Next(); }
  bool done() const override { return done_; }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return {}; }
  void Next() override {
    while (!std::getline(in_, line_)) {
      if (next_file_ == files_.size()) {
        done_ = true;
        return;
      }
      in_ = std::ifstream(files_[next_file_++], std::ios::binary);
    }
  }

 private:
  const std::vector<std::string>& files_;
  size_t next_file_ = 0;
  std::ifstream in_;
  std::string line_;
  bool done_ = false;
};

}  // namespace

void train_tokenizer(const TokenizerTrainOptions& o) {
  check(!o.inputs.empty(), "--input: give at least one text file");
  for (const auto& f : o.inputs) check(std::ifstream(f).good(), f + ": cannot open");
  check(o.model_type == "bpe" || o.model_type == "unigram", "--model-type must be bpe or unigram");
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", o.model_type},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"byte_fallback", "true"},
      {"character_coverage", "0.9995"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "true"},
      {"split_digits", "true"},
      {"allow_whitespace_only_pieces", "true"},
      {"max_sentence_length", "65536"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      {"num_threads", std::to_string(std::max(1u, std::thread::hardware_concurrency()))},
      {"minloglevel", o.verbose ? "0" : "2"},
  };
  sentencepiece::SetRandomGeneratorSeed(1);  // the same inputs give the same model
  FileLines lines(o.inputs);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &lines, &model);
  check(status.ok(), "tokenizer training failed: " + std::string(status.message()));

  std::filesystem::create_directories(o.out_dir);
  const std::string dir = o.out_dir + "/";
  write_file_atomically(dir + "tokenizer.model", [&](std::ostream& out) { out.write(model.data(), static_cast<std::streamsize>(model.size())); });
  const nlohmann::json config = {{"add_bos_token", true}, {"add_eos_token", false}, {"bos_token", "<s>"},
                                 {"eos_token", "</s>"},   {"unk_token", "<unk>"},   {"tokenizer_class", "LlamaTokenizer"}};
  write_file_atomically(dir + "tokenizer_config.json", [&](std::ostream& out) { out << config.dump(2) << "\n"; });
}

}  // namespace mmfree

#pragma once
// Trains a SentencePiece model on text files with the library's own trainer, set up like the
// LLaMA tokenizer (byte fallback, no normalization, digits split, a dummy-prefix space) so that
// decode(encode(t)) == t for any UTF-8 text.
#include <cstdint>
#include <string>
#include <vector>

namespace mmfree {

struct TokenizerTrainOptions {
  std::vector<std::string> inputs;  // text files, one sentence per line
  int64_t vocab_size = 32000;
  std::string model_type = "bpe";   // or "unigram"
  std::string out_dir;              // gets tokenizer.model and tokenizer_config.json
  bool verbose = false;             // the library's training log on stderr
};

void train_tokenizer(const TokenizerTrainOptions& o);

}  // namespace mmfree

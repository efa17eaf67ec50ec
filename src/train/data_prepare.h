#pragma once
// `mmfree data prepare`: text files -> train.bin + val.bin token files, split by document.
//
// A document is a whole input file, except that a file longer than document_bytes is cut into
// several: a cut falls at the first blank line after the current piece has reached document_bytes,
// so documents are runs of whole paragraphs; text that has no blank line by 2 * document_bytes
// (one paragraph a line, like the World English Bible) is cut at the end of that line. Each document is encoded without special tokens and
// stored as BOS + ids + EOS (each only when the tokenizer has it). round(val_fraction * documents)
// documents (at least one when the fraction is > 0, never all of them) chosen by a seeded shuffle go
// to val.bin, the rest to train.bin, each in input order.
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mmfree {

struct PrepareOptions {
  double val_fraction = 0.02;
  uint64_t seed = 1;
  int64_t document_bytes = 16384;
  int threads = 0;  // tokenizer threads; 0: all cores (the result does not depend on it)
};

struct PrepareSummary {
  int64_t train_documents = 0, val_documents = 0;
  int64_t train_tokens = 0, val_tokens = 0;
  int64_t bytes = 0;  // of text read
};

// Splits text into documents as described above. Pieces holding only whitespace are dropped.
std::vector<std::string> split_documents(const std::string& text, int64_t document_bytes);

// Writes out_dir/train.bin, out_dir/val.bin, out_dir/val.txt (the validation documents' text, in
// order: for `mmfree perplexity` and for compressors), out_dir/meta.json (what was done) and the
// tokenizer (tokenizer.model or tokenizer.json, with tokenizer_config.json when there is one), so
// that a model trained on the data can be shipped with it.
PrepareSummary prepare_dataset(const Tokenizer& tok, const std::string& tokenizer_path,
                               const std::vector<std::string>& inputs, const std::string& out_dir,
                               const PrepareOptions& o);

// Copies the tokenizer files of directory `from` (tokenizer.model, tokenizer.json,
// tokenizer_config.json: those present) into directory `to`.
void copy_tokenizer_files(const std::string& from, const std::string& to);

}  // namespace mmfree

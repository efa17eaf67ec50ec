#pragma once
// Text <-> token ids. Implementations: SentencePiece (tokenizer.model, through the Debian library)
// and Hugging Face tokenizer.json (BPE with byte fallback). load_tokenizer picks by file name.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mmfree {

struct EncodeOptions {
  bool add_bos = true;         // subject to the tokenizer's own add_bos_token setting
  bool add_eos = false;
  bool parse_special = false;  // "<s>" in the text becomes the special token only when asked
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::vector<int32_t> encode(std::string_view text, const EncodeOptions& o = {}) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual std::string piece(int32_t id) const = 0;  // the vocabulary entry, e.g. "▁the" or "<0x0A>"
  virtual int64_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when none
  virtual int32_t eos_id() const = 0;
};

// PATH is a tokenizer.json, a tokenizer.model, or a directory holding one (tokenizer_config.json
// beside it is honoured). Throws Error naming the file when it does not parse.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace mmfree

#pragma once
// A SentencePiece model (tokenizer.model) run by the Debian library: encode and decode are the
// library's own, so its output is exactly what the reference tooling gives.
#include <sentencepiece_processor.h>

#include "tokenizer/tokenizer.h"

namespace mmfree {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  SentencePieceTokenizer(std::string bytes, const TokenizerSettings& settings, const std::string& name);
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string piece(int32_t id) const override;

 private:
  void encode_plain(std::string_view text, std::vector<int32_t>& out) const override;
  void encode_whole(std::string_view text, std::vector<int>& ids) const;

  sentencepiece::SentencePieceProcessor sp_;
  // The ids of "\n" alone when text can be encoded word by word (see encode_plain); empty otherwise.
  std::vector<int> newline_ids_;
};

}  // namespace mmfree

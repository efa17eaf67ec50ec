#pragma once
// A Hugging Face tokenizer.json of the kind Llama/Mistral checkpoints ship: a BPE model with byte
// fallback, a Prepend/Replace normalizer, no pre-tokenizer, added tokens, and a
// Replace/ByteFallback/Fuse/Strip decoder. Anything else in the file is refused by name rather
// than run differently from the reference library.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mmfree {

class HfBpeTokenizer final : public Tokenizer {
 public:
  HfBpeTokenizer(std::string bytes, const TokenizerSettings& settings, const std::string& name);
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string piece(int32_t id) const override;

 private:
  struct Merge {
    int32_t left, right, merged;  // token ids: left + right -> merged
  };
  struct Symbol {
    int32_t id;  // -1 once merged into its left neighbour
    int32_t prev, next;
  };

  void encode_plain(std::string_view text, std::vector<int32_t>& out) const override;
  std::string normalize(std::string_view text) const;
  // Splits the normalized text into initial symbols: one per character, or its bytes' <0xNN> tokens.
  void initial_symbols(std::string_view text, std::vector<Symbol>& syms) const;
  // Encodes one stretch of normalized text that no merge crosses (appends to out).
  void encode_word(std::string_view word, std::vector<Symbol>& syms, std::vector<uint64_t>& heap,
                   std::vector<int32_t>& out) const;
  // Applies merges by rank (ties: leftmost first) to syms[begin, end) and appends the result.
  void merge_run(std::vector<Symbol>& syms, int32_t begin, int32_t end, std::vector<uint64_t>& heap,
                 std::vector<int32_t>& out) const;
  void add_merge(int32_t rank, const Merge& m);
  int32_t merge_rank(int32_t left, int32_t right) const;  // -1 when the pair does not merge

  std::vector<std::string> pieces_;                 // by id
  std::unordered_map<uint32_t, int32_t> char_ids_;  // single-character tokens by code point
  std::vector<uint8_t> inert_;                      // by id: 1 when no merge involves the token
  std::vector<Merge> merges_;                       // by rank: position in the merges list, lower first
  // Rank of each mergeable pair, in an open-addressing table (linear probing) keyed by
  // left << 32 | right: these lookups are most of the encoder's time.
  std::vector<uint64_t> pair_keys_;
  std::vector<int32_t> pair_ranks_;
  uint64_t pair_mask_ = 0;
  int32_t byte_ids_[256];                           // <0xNN> tokens; -1 when absent or no byte fallback
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  std::vector<std::pair<std::string, std::string>> normalizer_;  // (from, to); from "" prepends
  // The normalizer's replacement for a space ("▁") when the text can be encoded word by word
  // (see encode_by_words); empty otherwise.
  std::string word_start_;
};

}  // namespace mmfree

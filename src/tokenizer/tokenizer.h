#pragma once
// Text <-> token ids. Implementations: SentencePiece (tokenizer.model, through the Debian library)
// and Hugging Face tokenizer.json (BPE with byte fallback, written here). load_tokenizer picks by
// file name; load_tokenizer_from_bytes rebuilds one from the file's bytes (e.g. embedded in a
// model file: store kind(), file_bytes() and settings(), and loading them back gives the same
// tokenizer).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mmfree {

struct EncodeOptions {
  bool add_bos = true;         // add BOS if the tokenizer adds one (adds_bos()); false never adds it
  bool add_eos = true;         // add EOS if the tokenizer adds one (adds_eos(), usually not)
  bool parse_special = false;  // "<s>" in the text becomes the special token only when asked
};

enum class TokenizerKind { SentencePiece, HuggingFace };

// What tokenizer_config.json may say beside the tokenizer file; an absent value keeps the
// tokenizer file's own default (SentencePiece: BOS yes, EOS no; tokenizer.json: its post_processor).
struct TokenizerSettings {
  std::optional<bool> add_bos, add_eos;
  std::optional<std::string> bos_token, eos_token;  // by content, e.g. "<s>"; "" means none
  // The Jinja chat template (tokenizer_config.json's chat_template, or chat_template.jinja beside
  // it), as text; src/serve/ renders it.
  std::optional<std::string> chat_template;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Throws Error when the text is not valid UTF-8. An empty text gives the special tokens alone.
  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& o = {}) const;
  // Special tokens (BOS, EOS, ...) give no text. Throws Error for an id outside the vocabulary.
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual std::string piece(int32_t id) const = 0;  // the vocabulary entry, e.g. "▁the" or "<0x0A>"
  int64_t vocab_size() const { return static_cast<int64_t>(token_bytes_.size()); }
  int32_t bos_id() const { return bos_id_; }  // -1 when none
  int32_t eos_id() const { return eos_id_; }
  bool adds_bos() const { return add_bos_ && bos_id_ >= 0; }
  bool adds_eos() const { return add_eos_ && eos_id_ >= 0; }

  // For streaming decode: the bytes token `id` adds to running text ("▁the" -> " the", "<0x0A>"
  // -> "\n", special tokens -> ""), possibly an incomplete UTF-8 sequence; and how many leading
  // spaces decode() removes from the start of a text (the space the encoder prepended).
  std::string_view token_bytes(int32_t id) const { return token_bytes_[static_cast<size_t>(id)]; }
  int leading_spaces_stripped() const { return strip_leading_spaces_; }

  TokenizerKind kind() const { return kind_; }
  const std::string& file_bytes() const { return file_bytes_; }
  const TokenizerSettings& settings() const { return settings_; }
  const std::string& name() const { return name_; }  // the file it came from, for messages

 protected:
  struct SpecialToken {
    std::string content;
    int32_t id;
    bool special;  // true: matched in text only with parse_special; false: always (an added word)
  };
  Tokenizer(TokenizerKind kind, std::string file_bytes, TokenizerSettings settings, std::string name);
  // Appends the ids of text that holds no special token.
  virtual void encode_plain(std::string_view text, std::vector<int32_t>& out) const = 0;
  // Called by the subclass constructor once the vocabulary is known: applies the settings'
  // bos/eos names and add flags over the file's defaults.
  void finish_setup(int32_t default_bos, int32_t default_eos, bool default_add_bos, bool default_add_eos);
  void check_id(int32_t id) const;  // throws Error for an id outside the vocabulary
  int32_t find_special(std::string_view content) const;  // -1 when none

  // Word-by-word encoding, for vocabularies where a space marker ("▁") only ever starts a token
  // or follows another marker: then no merge joins a word to the marker run that starts the next
  // word, and each distinct word can be encoded once. A word is a run of `marker`, then the text
  // up to the next one. encode_word gets first = true for the text's first word only.
  static bool marker_only_starts_tokens(const std::vector<std::string>& pieces, std::string_view marker);
  using WordEncoder = std::function<void(std::string_view word, bool first, std::vector<int32_t>& out)>;
  static void encode_by_words(std::string_view text, std::string_view marker, const WordEncoder& encode_word,
                              std::vector<int32_t>& out);

  std::vector<std::string> token_bytes_;  // indexed by id; its size is the vocabulary size
  std::vector<SpecialToken> specials_;
  int strip_leading_spaces_ = 0;

 private:
  TokenizerKind kind_;
  std::string file_bytes_;
  TokenizerSettings settings_;
  std::string name_;
  int32_t bos_id_ = -1, eos_id_ = -1;
  bool add_bos_ = false, add_eos_ = false;
};

// PATH is a tokenizer.json, a tokenizer.model, or a directory holding one (tokenizer.json is
// preferred when both are there); tokenizer_config.json beside it is honoured. Throws Error naming
// the file when it does not parse, or the directory when it holds no tokenizer.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// The tokenizer file inside directory DIR (or PATH itself when it is a file); "" when none.
std::string find_tokenizer_file(const std::string& path);

// tokenizer_config.json's add_bos_token / add_eos_token / bos_token / eos_token / chat_template;
// throws Error naming the file when it does not parse.
TokenizerSettings read_tokenizer_config(const std::string& path);

// The tokenizer from the bytes of its file. `name` is used in error messages.
std::unique_ptr<Tokenizer> load_tokenizer_from_bytes(TokenizerKind kind, std::string bytes,
                                                     const TokenizerSettings& settings = {},
                                                     const std::string& name = "tokenizer");

}  // namespace mmfree

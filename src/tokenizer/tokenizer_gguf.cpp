#include "tokenizer/tokenizer_gguf.h"

#include "util/base64.h"
#include "util/error.h"

namespace mmfree {

namespace {
constexpr const char* kKind = "mmfree.tokenizer.kind";
constexpr const char* kFile = "mmfree.tokenizer.file_base64";
constexpr const char* kAddBos = "tokenizer.ggml.add_bos_token";
constexpr const char* kAddEos = "tokenizer.ggml.add_eos_token";
constexpr const char* kBosToken = "mmfree.tokenizer.bos_token";
constexpr const char* kEosToken = "mmfree.tokenizer.eos_token";
constexpr const char* kChatTemplate = "tokenizer.chat_template";  // the key llama.cpp uses too
constexpr const char* kSentencePiece = "sentencepiece";
constexpr const char* kHuggingFace = "huggingface";
}  // namespace

std::vector<std::pair<std::string, GgufValue>> tokenizer_gguf_metadata(const Tokenizer& t) {
  std::vector<std::pair<std::string, GgufValue>> m;
  m.emplace_back(kKind, GgufValue::of_string(t.kind() == TokenizerKind::SentencePiece ? kSentencePiece : kHuggingFace));
  m.emplace_back(kFile, GgufValue::of_string(base64_encode(t.file_bytes())));
  const TokenizerSettings& s = t.settings();
  if (s.add_bos) m.emplace_back(kAddBos, GgufValue::of_bool(*s.add_bos));
  if (s.add_eos) m.emplace_back(kAddEos, GgufValue::of_bool(*s.add_eos));
  if (s.bos_token) m.emplace_back(kBosToken, GgufValue::of_string(*s.bos_token));
  if (s.eos_token) m.emplace_back(kEosToken, GgufValue::of_string(*s.eos_token));
  if (s.chat_template) m.emplace_back(kChatTemplate, GgufValue::of_string(*s.chat_template));
  return m;
}

bool gguf_has_tokenizer(const GgufFile& f) { return f.find(kKind) != nullptr; }

std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufFile& f) {
  check(gguf_has_tokenizer(f), f.path() + ": the model file holds no tokenizer (convert a checkpoint that has one, or give --tokenizer)");
  const std::string& kind = f.get_string(kKind);
  check(kind == kSentencePiece || kind == kHuggingFace, f.path() + ": unknown tokenizer kind '" + kind + "' in " + kKind);
  TokenizerSettings s;
  if (f.find(kAddBos)) s.add_bos = f.get_bool(kAddBos);
  if (f.find(kAddEos)) s.add_eos = f.get_bool(kAddEos);
  if (f.find(kBosToken)) s.bos_token = f.get_string(kBosToken);
  if (f.find(kEosToken)) s.eos_token = f.get_string(kEosToken);
  if (f.find(kChatTemplate)) s.chat_template = f.get_string(kChatTemplate);
  return load_tokenizer_from_bytes(kind == kSentencePiece ? TokenizerKind::SentencePiece : TokenizerKind::HuggingFace,
                                   base64_decode(f.get_string(kFile), f.path() + ": " + kFile), s,
                                   f.path() + " (embedded tokenizer)");
}

}  // namespace mmfree

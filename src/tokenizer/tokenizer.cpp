#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "tokenizer/hf_bpe_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/tokenizer_gguf.h"
#include "util/error.h"
#include "util/mapped_file.h"
#include "util/utf8.h"

namespace mmfree {

namespace fs = std::filesystem;

Tokenizer::Tokenizer(TokenizerKind kind, std::string file_bytes, TokenizerSettings settings, std::string name)
    : kind_(kind), file_bytes_(std::move(file_bytes)), settings_(std::move(settings)), name_(std::move(name)) {}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& o) const {
  check_utf8(text, "the text to tokenize");
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (o.add_bos && adds_bos()) ids.push_back(bos_id_);
  // Special tokens split the text first (leftmost, then longest match); the pieces between them
  // are encoded on their own, as the Hugging Face library does.
  std::array<bool, 256> starts{};
  bool any = false;
  for (const auto& s : specials_)
    if (!s.special || o.parse_special) any = starts[static_cast<uint8_t>(s.content[0])] = true;
  size_t start = 0, pos = 0;
  while (any && pos < text.size()) {
    const SpecialToken* match = nullptr;
    if (starts[static_cast<uint8_t>(text[pos])])
      for (const auto& s : specials_)
        if ((!s.special || o.parse_special) && text.substr(pos).starts_with(s.content) &&
            (!match || s.content.size() > match->content.size()))
          match = &s;
    if (!match) {
      ++pos;
      continue;
    }
    encode_plain(text.substr(start, pos - start), ids);
    ids.push_back(match->id);
    start = pos += match->content.size();
  }
  encode_plain(text.substr(start), ids);
  if (o.add_eos && adds_eos()) ids.push_back(eos_id_);
  return ids;
}

void Tokenizer::finish_setup(int32_t default_bos, int32_t default_eos, bool default_add_bos, bool default_add_eos) {
  std::erase_if(specials_, [](const SpecialToken& s) { return s.content.empty(); });
  const auto resolve = [&](const std::optional<std::string>& content, int32_t fallback, const char* what) {
    if (!content) return fallback;
    if (content->empty()) return int32_t{-1};
    const int32_t id = find_special(*content);
    check(id >= 0, name_ + ": tokenizer_config.json names " + what + " '" + *content +
                       "', which is not a special token of this tokenizer");
    return id;
  };
  bos_id_ = resolve(settings_.bos_token, default_bos, "bos_token");
  eos_id_ = resolve(settings_.eos_token, default_eos, "eos_token");
  add_bos_ = settings_.add_bos.value_or(default_add_bos);
  add_eos_ = settings_.add_eos.value_or(default_add_eos);
}

void Tokenizer::check_id(int32_t id) const {
  check(id >= 0 && id < vocab_size(), "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                          std::to_string(vocab_size()) + ") of " + name_);
}

int32_t Tokenizer::find_special(std::string_view content) const {
  for (const auto& s : specials_)
    if (s.content == content) return s.id;
  return -1;
}

bool Tokenizer::marker_only_starts_tokens(const std::vector<std::string>& pieces, std::string_view marker) {
  for (const auto& piece : pieces)
    for (size_t at = piece.find(marker, 1); at != std::string::npos; at = piece.find(marker, at + 1))
      if (at < marker.size() || piece.compare(at - marker.size(), marker.size(), marker) != 0) return false;
  return true;
}

void Tokenizer::encode_by_words(std::string_view text, std::string_view marker, const WordEncoder& encode_word,
                                std::vector<int32_t>& out) {
  // Each distinct word is encoded once: `seen` maps it to its ids' place in `done`.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> seen;
  std::vector<int32_t> done;
  for (size_t start = 0; start < text.size();) {
    size_t end = start;
    while (text.substr(end).starts_with(marker)) end += marker.size();
    end = std::min(text.find(marker, end), text.size());
    const std::string_view word = text.substr(start, end - start);
    if (start == 0) {
      encode_word(word, true, out);
    } else {
      auto [it, fresh] = seen.try_emplace(word, done.size(), 0);
      if (fresh) {
        encode_word(word, false, done);
        it->second.second = done.size() - it->second.first;
      }
      const auto from = done.begin() + static_cast<std::ptrdiff_t>(it->second.first);
      out.insert(out.end(), from, from + static_cast<std::ptrdiff_t>(it->second.second));
    }
    start = end;
  }
}

std::string find_tokenizer_file(const std::string& path) {
  std::error_code ec;
  if (is_gguf_file(path)) return gguf_has_tokenizer(GgufFile(path)) ? path : "";
  if (!fs::is_directory(path, ec)) return fs::is_regular_file(path, ec) ? path : "";
  for (const char* name : {"tokenizer.json", "tokenizer.model"}) {
    const fs::path p = fs::path(path) / name;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

TokenizerSettings read_tokenizer_config(const std::string& path) {
  MappedFile file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(file.data(), file.data() + file.size());
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
  check(j.is_object(), path + ": not a JSON object");
  TokenizerSettings s;
  const auto flag = [&](const char* key, std::optional<bool>& dst) {
    if (!j.contains(key) || j[key].is_null()) return;
    check(j[key].is_boolean(), path + ": '" + key + "' must be true or false, got " + j[key].dump());
    dst = j[key].get<bool>();
  };
  // A token is written as "<s>", as {"content": "<s>", ...} or as null (none).
  const auto token = [&](const char* key, std::optional<std::string>& dst) {
    if (!j.contains(key)) return;
    const auto& v = j[key];
    if (v.is_null()) {
      dst = "";
    } else if (v.is_string()) {
      dst = v.get<std::string>();
    } else {
      check(v.is_object() && v.contains("content") && v["content"].is_string(),
            path + ": '" + key + "' must be a string, {\"content\": ...} or null, got " + v.dump());
      dst = v["content"].get<std::string>();
    }
  };
  flag("add_bos_token", s.add_bos);
  flag("add_eos_token", s.add_eos);
  token("bos_token", s.bos_token);
  token("eos_token", s.eos_token);
  // A string, or a list of {"name", "template"} of which transformers uses the one named "default".
  if (j.contains("chat_template") && !j["chat_template"].is_null()) {
    const auto& t = j["chat_template"];
    if (t.is_string()) {
      s.chat_template = t.get<std::string>();
    } else {
      check(t.is_array(), path + ": 'chat_template' must be a string or a list of {\"name\", \"template\"}");
      for (const auto& named : t) {
        check(named.is_object() && named.contains("name") && named["name"].is_string() && named.contains("template") &&
                  named["template"].is_string(),
              path + ": each entry of 'chat_template' must be {\"name\": ..., \"template\": ...}");
        if (named["name"] == "default") s.chat_template = named["template"].get<std::string>();
      }
    }
  }
  return s;
}

std::unique_ptr<Tokenizer> load_tokenizer_from_bytes(TokenizerKind kind, std::string bytes,
                                                     const TokenizerSettings& settings, const std::string& name) {
  if (kind == TokenizerKind::SentencePiece)
    return std::make_unique<SentencePieceTokenizer>(std::move(bytes), settings, name);
  return std::make_unique<HfBpeTokenizer>(std::move(bytes), settings, name);
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  std::error_code ec;
  check(fs::exists(path, ec), path + ": no such file or directory");
  if (is_gguf_file(path)) return tokenizer_from_gguf(GgufFile(path));
  const std::string file = find_tokenizer_file(path);
  check(!file.empty(), path + ": no tokenizer here (expected tokenizer.json or tokenizer.model)");
  MappedFile map(file);
  std::string bytes(reinterpret_cast<const char*>(map.data()), map.size());
  // By name; otherwise a JSON document starts with '{' and a SentencePiece model (protobuf) cannot.
  const std::string ext = fs::path(file).extension().string();
  const size_t first = bytes.find_first_not_of(" \t\r\n");
  const bool json = ext == ".json" || (ext != ".model" && first != std::string::npos && bytes[first] == '{');
  const fs::path config = fs::path(file).parent_path() / "tokenizer_config.json";
  TokenizerSettings settings = fs::is_regular_file(config, ec) ? read_tokenizer_config(config.string()) : TokenizerSettings{};
  // Newer transformers save the template in its own file, which then takes precedence.
  const fs::path jinja = fs::path(file).parent_path() / "chat_template.jinja";
  if (fs::is_regular_file(jinja, ec)) {
    MappedFile t(jinja.string());
    settings.chat_template = std::string(reinterpret_cast<const char*>(t.data()), t.size());
  }
  return load_tokenizer_from_bytes(json ? TokenizerKind::HuggingFace : TokenizerKind::SentencePiece, std::move(bytes),
                                   settings, file);
}

}  // namespace mmfree

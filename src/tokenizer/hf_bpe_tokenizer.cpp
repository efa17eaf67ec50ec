#include "tokenizer/hf_bpe_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "tokenizer/text_stream.h"
#include "util/error.h"
#include "util/strings.h"
#include "util/utf8.h"

namespace mmfree {

namespace {

using json = nlohmann::json;

constexpr uint64_t kNoPair = ~uint64_t{0};
uint64_t pair_key(int32_t left, int32_t right) { return static_cast<uint64_t>(left) << 32 | static_cast<uint32_t>(right); }
uint64_t pair_slot(uint64_t key, uint64_t mask) { return (key * 0x9E3779B97F4A7C15ull >> 20) & mask; }

std::string byte_token(int b) {
  char s[8];
  std::snprintf(s, sizeof s, "<0x%02X>", b);
  return s;
}

// The decoder chain, reduced to what it does to each token and to the joined text.
struct DecoderSteps {
  std::vector<std::pair<std::string, std::string>> replaces;
  bool byte_fallback = false;
  int strip_start = 0;
};

class TokenizerJsonReader {
 public:
  explicit TokenizerJsonReader(const std::string& name) : name_(name) {}

  [[noreturn]] void unsupported(const std::string& what, const json& v) const {
    std::string shown = v.dump();
    if (shown.size() > 200) shown = shown.substr(0, 200) + "...";
    throw Error(name_ + ": unsupported " + what + " " + shown +
                " (mmfree reads BPE with byte fallback, a Prepend/Replace normalizer and no pre-tokenizer)");
  }

  // An integer field (a token id, a count). nlohmann converts a float such as 3e32 to an integer
  // with a cast whose overflow is undefined (found by fuzz_tokenizer_json): refuse anything else.
  int64_t integer(const json& v, const std::string& what, int64_t lo, int64_t hi) const {
    if (!v.is_number_integer()) throw Error(name_ + ": " + what + " is " + v.dump() + ", not an integer");
    const int64_t i = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? hi + 1 : v.get<int64_t>();
    if (i < lo || i > hi)
      throw Error(name_ + ": " + what + " is " + v.dump() + ", outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return i;
  }

  // Replace's pattern must be a plain string; a Regex pattern is not supported.
  std::string string_pattern(const json& step) const {
    const json& p = step.at("pattern");
    if (!p.contains("String")) unsupported("Replace pattern", p);
    std::string from = p.at("String").get<std::string>();
    check(!from.empty(), name_ + ": a Replace step has an empty pattern");
    return from;
  }

  void normalizer(const json& n, std::vector<std::pair<std::string, std::string>>& out) const {
    if (n.is_null()) return;
    const std::string type = n.value("type", "");
    if (type == "Sequence") {
      for (const json& s : n.at("normalizers")) normalizer(s, out);
    } else if (type == "Prepend") {
      out.emplace_back("", n.at("prepend").get<std::string>());
    } else if (type == "Replace") {
      out.emplace_back(string_pattern(n), n.at("content").get<std::string>());
    } else {
      unsupported("normalizer", n);
    }
  }

  void decoder(const json& d, DecoderSteps& out) const {
    if (d.is_null()) return;
    const std::string type = d.value("type", "");
    if (type == "Sequence") {
      for (const json& s : d.at("decoders")) decoder(s, out);
    } else if (type == "Replace") {
      out.replaces.emplace_back(string_pattern(d), d.at("content").get<std::string>());
    } else if (type == "ByteFallback") {
      out.byte_fallback = true;
    } else if (type == "Strip") {
      if (d.at("content") != " " || d.at("stop") != 0) unsupported("decoder", d);
      out.strip_start = static_cast<int>(integer(d.at("start"), "the Strip decoder's start", 0, 1024));
    } else if (type != "Fuse") {  // Fuse joins the tokens, which the decode table does anyway
      unsupported("decoder", d);
    }
  }

  // TemplateProcessing's "single" template: special tokens before the text are BOS, after it EOS.
  void post_processor(const json& p, std::string& bos, std::string& eos) const {
    if (p.is_null()) return;
    if (p.value("type", "") != "TemplateProcessing") unsupported("post_processor", p);
    const json& single = p.at("single");
    bool seen_text = false;
    for (const json& item : single) {
      if (item.contains("Sequence")) {
        seen_text = true;
      } else {
        (seen_text ? eos : bos) = item.at("SpecialToken").at("id").get<std::string>();
      }
    }
  }

 private:
  const std::string& name_;
};

}  // namespace

HfBpeTokenizer::HfBpeTokenizer(std::string bytes, const TokenizerSettings& settings, const std::string& name)
    : Tokenizer(TokenizerKind::HuggingFace, std::move(bytes), settings, name) {
  const TokenizerJsonReader reader(name);
  DecoderSteps dec;
  std::string template_bos, template_eos;
  try {
    const json j = json::parse(file_bytes());
    check(j.is_object(), name + ": not a tokenizer.json (not a JSON object)");
    const json& m = j.at("model");
    if (m.value("type", "BPE") != "BPE") reader.unsupported("model type", m.at("type"));
    if (m.contains("dropout") && !m["dropout"].is_null() && m["dropout"] != 0) reader.unsupported("dropout", m["dropout"]);
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (m.contains(key) && !m[key].is_null() && m[key] != "") reader.unsupported(key, m[key]);
    if (m.value("ignore_merges", false)) reader.unsupported("ignore_merges", m["ignore_merges"]);
    if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null())
      reader.unsupported("pre_tokenizer", j["pre_tokenizer"]);
    reader.normalizer(j.value("normalizer", json()), normalizer_);
    reader.decoder(j.value("decoder", json()), dec);
    reader.post_processor(j.value("post_processor", json()), template_bos, template_eos);

    // Vocabulary and added tokens; ids must be dense enough to index a table.
    const json& vocab = m.at("vocab");
    const json added = j.value("added_tokens", json::array());
    const size_t entries = vocab.size() + added.size();
    std::unordered_map<std::string, int32_t> ids;
    ids.reserve(vocab.size());
    const auto place = [&](const std::string& content, int64_t id) {
      check(id >= 0 && static_cast<size_t>(id) < entries,
            name + ": token '" + content + "' has id " + std::to_string(id) + ", outside [0, " +
                std::to_string(entries) + ")");
      if (pieces_.size() <= static_cast<size_t>(id)) pieces_.resize(static_cast<size_t>(id) + 1);
      pieces_[static_cast<size_t>(id)] = content;
    };
    for (const auto& [content, id] : vocab.items()) {
      const int64_t i = reader.integer(id, "the id of token '" + content + "'", 0, INT32_MAX);
      place(content, i);
      ids[content] = static_cast<int32_t>(i);
    }
    for (const json& a : added) {
      const std::string content = a.at("content").get<std::string>();
      const int64_t i = reader.integer(a.at("id"), "the id of added token '" + content + "'", 0, INT32_MAX);
      place(content, i);
      specials_.push_back({content, static_cast<int32_t>(i), a.value("special", false)});
    }
    check(!pieces_.empty(), name + ": the vocabulary is empty");
    const auto id_of = [&](const std::string& piece, const std::string& where) {
      const auto it = ids.find(piece);
      check(it != ids.end(), name + ": " + where + " '" + piece + "', which is not in the vocabulary");
      return it->second;
    };

    // Merges, as "left right" strings (older files) or [left, right] pairs.
    const json& merges = m.at("merges");
    merges_.reserve(merges.size());
    size_t slots = 16;
    while (slots < 2 * merges.size()) slots *= 2;
    pair_keys_.assign(slots, kNoPair);
    pair_ranks_.assign(slots, -1);
    pair_mask_ = slots - 1;
    inert_.assign(pieces_.size(), 1);
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const json& mg = merges[rank];
      std::string left, right;
      if (mg.is_string()) {
        const std::string s = mg.get<std::string>();
        const size_t sp = s.find(' ');
        check(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos,
              name + ": merge " + std::to_string(rank) + " '" + s + "' is not two tokens separated by a space");
        left = s.substr(0, sp);
        right = s.substr(sp + 1);
      } else {
        check(mg.is_array() && mg.size() == 2, name + ": merge " + std::to_string(rank) + " is not a pair");
        left = mg[0].get<std::string>();
        right = mg[1].get<std::string>();
      }
      const std::string where = "merge " + std::to_string(rank) + " uses";
      const int32_t l = id_of(left, where), r = id_of(right, where), joined = id_of(left + right, where);
      add_merge(static_cast<int32_t>(rank), {l, r, joined});
      inert_[l] = inert_[r] = 0;
    }

    for (const auto& [piece, id] : ids) {
      size_t len = 0;
      if (utf8_sequence(piece, 0, &len) == Utf8Sequence::Complete && len == piece.size()) {
        size_t pos = 0;
        char_ids_[utf8_next(piece, &pos)] = id;
      }
    }
    const bool byte_fallback = m.value("byte_fallback", false);
    for (int b = 0; b < 256; ++b) {
      const auto it = ids.find(byte_token(b));
      byte_ids_[b] = byte_fallback && it != ids.end() ? it->second : -1;
    }
    // Word splitting needs the space marker to be a token of its own that only starts tokens.
    for (const auto& [from, to] : normalizer_)
      if (from == " " && !to.empty()) word_start_ = to;
    if (!word_start_.empty() && (!ids.count(word_start_) || !marker_only_starts_tokens(pieces_, word_start_)))
      word_start_.clear();
    if (m.contains("unk_token") && !m["unk_token"].is_null()) unk_id_ = id_of(m["unk_token"], "unk_token");
    fuse_unk_ = m.value("fuse_unk", false);
  } catch (const json::exception& e) {
    throw Error(name + ": not a valid tokenizer.json: " + e.what());
  }

  // What each token adds to decoded text: special added tokens nothing (they are skipped),
  // <0xNN> its byte, anything else its piece through the decoder's Replace steps.
  token_bytes_.resize(pieces_.size());
  for (size_t id = 0; id < pieces_.size(); ++id) {
    const std::string& p = pieces_[id];
    const bool special = std::any_of(specials_.begin(), specials_.end(), [&](const SpecialToken& s) {
      return s.special && s.id == static_cast<int32_t>(id);
    });
    if (special) continue;
    if (dec.byte_fallback && p.size() == 6 && p.starts_with("<0x") && p.ends_with(">") &&
        std::isxdigit(static_cast<unsigned char>(p[3])) && std::isxdigit(static_cast<unsigned char>(p[4]))) {
      token_bytes_[id] = std::string(1, static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));
      continue;
    }
    std::string text = p;
    for (const auto& [from, to] : dec.replaces) text = replace_all(text, from, to);
    token_bytes_[id] = std::move(text);
  }
  strip_leading_spaces_ = dec.strip_start;

  const auto special_or = [&](const std::string& content, const char* fallback) {
    const int32_t id = find_special(content.empty() ? fallback : content);
    check(content.empty() || id >= 0, name + ": the post_processor uses '" + content + "', which is not an added token");
    return id;
  };
  finish_setup(special_or(template_bos, "<s>"), special_or(template_eos, "</s>"), !template_bos.empty(),
               !template_eos.empty());
}

std::string HfBpeTokenizer::normalize(std::string_view text) const {
  std::string s(text);
  for (const auto& [from, to] : normalizer_) {
    if (from.empty()) {
      if (!s.empty()) s.insert(0, to);  // Prepend leaves an empty text empty
    } else {
      s = replace_all(s, from, to);
    }
  }
  return s;
}

void HfBpeTokenizer::initial_symbols(std::string_view text, std::vector<Symbol>& syms) const {
  const auto add = [&](int32_t id) { syms.push_back({id, -1, -1}); };
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const uint32_t cp = utf8_next(text, &pos);
    if (const auto it = char_ids_.find(cp); it != char_ids_.end()) {
      add(it->second);
      continue;
    }
    const bool bytes = std::all_of(text.begin() + start, text.begin() + pos,
                                   [&](char b) { return byte_ids_[static_cast<uint8_t>(b)] >= 0; });
    if (bytes) {
      for (size_t i = start; i < pos; ++i) add(byte_ids_[static_cast<uint8_t>(text[i])]);
      continue;
    }
    char hex[16];
    std::snprintf(hex, sizeof hex, "U+%04X", cp);
    check(unk_id_ >= 0, name() + ": character " + hex + " is not in the vocabulary, which has no byte fallback or unk token");
    if (!(fuse_unk_ && !syms.empty() && syms.back().id == unk_id_)) add(unk_id_);
  }
}

void HfBpeTokenizer::add_merge(int32_t rank, const Merge& m) {
  merges_.push_back(m);
  const uint64_t key = pair_key(m.left, m.right);
  uint64_t slot = pair_slot(key, pair_mask_);
  while (pair_keys_[slot] != kNoPair && pair_keys_[slot] != key) slot = (slot + 1) & pair_mask_;
  pair_keys_[slot] = key;
  pair_ranks_[slot] = rank;  // the Hugging Face library keeps the last of duplicate merges
}

int32_t HfBpeTokenizer::merge_rank(int32_t left, int32_t right) const {
  const uint64_t key = pair_key(left, right);
  for (uint64_t slot = pair_slot(key, pair_mask_);; slot = (slot + 1) & pair_mask_) {
    if (pair_keys_[slot] == key) return pair_ranks_[slot];
    if (pair_keys_[slot] == kNoPair) return -1;
  }
}

void HfBpeTokenizer::merge_run(std::vector<Symbol>& syms, int32_t begin, int32_t end, std::vector<uint64_t>& heap,
                               std::vector<int32_t>& out) const {
  if (begin == end) return;
  // A min-heap of (rank, position): the lowest-ranked merge first, the leftmost among equals.
  // Entries go stale when a neighbour merges first; they are recognised and skipped when popped.
  heap.clear();
  const auto entry = [](int32_t rank, int32_t pos) { return static_cast<uint64_t>(rank) << 32 | static_cast<uint32_t>(pos); };
  for (int32_t i = begin; i < end; ++i) {
    syms[i].prev = i == begin ? -1 : i - 1;
    syms[i].next = i + 1 == end ? -1 : i + 1;
    if (i + 1 < end)
      if (const int32_t rank = merge_rank(syms[i].id, syms[i + 1].id); rank >= 0) heap.push_back(entry(rank, i));
  }
  const std::greater<uint64_t> later;
  std::make_heap(heap.begin(), heap.end(), later);
  const auto push_pair = [&](int32_t pos) {
    if (pos < 0 || syms[pos].next < 0) return;
    if (const int32_t rank = merge_rank(syms[pos].id, syms[syms[pos].next].id); rank >= 0) {
      heap.push_back(entry(rank, pos));
      std::push_heap(heap.begin(), heap.end(), later);
    }
  };
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const int32_t rank = static_cast<int32_t>(heap.back() >> 32), pos = static_cast<int32_t>(heap.back() & 0xFFFFFFFFu);
    heap.pop_back();
    Symbol& left = syms[pos];
    if (left.id < 0 || left.next < 0) continue;
    Symbol& right = syms[left.next];
    // Stale unless this very pair is still there (a pair's rank identifies it).
    const Merge& m = merges_[static_cast<size_t>(rank)];
    if (m.left != left.id || m.right != right.id) continue;
    left.id = m.merged;
    right.id = -1;
    left.next = right.next;
    if (left.next >= 0) syms[left.next].prev = pos;
    push_pair(left.prev);
    push_pair(pos);
  }
  for (int32_t i = begin; i >= 0; i = syms[i].next) out.push_back(syms[i].id);  // the first symbol is never merged away
}

void HfBpeTokenizer::encode_word(std::string_view word, std::vector<Symbol>& syms, std::vector<uint64_t>& heap,
                                 std::vector<int32_t>& out) const {
  syms.clear();
  initial_symbols(word, syms);
  // A token that no merge involves can never join a neighbour, so it splits the word into runs
  // that merge independently: same result, and each heap stays small.
  const int32_t n = static_cast<int32_t>(syms.size());
  int32_t begin = 0;
  for (int32_t i = 0; i <= n; ++i) {
    if (i < n && !inert_[syms[i].id]) continue;
    merge_run(syms, begin, i, heap, out);
    if (i < n) out.push_back(syms[i].id);
    begin = i + 1;
  }
}

void HfBpeTokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  const std::string norm = normalize(text);
  std::vector<Symbol> syms;
  std::vector<uint64_t> heap;
  if (word_start_.empty()) return encode_word(norm, syms, heap, out);
  encode_by_words(
      norm, word_start_, [&](std::string_view word, bool, std::vector<int32_t>& ids) { encode_word(word, syms, heap, ids); },
      out);
}

std::string HfBpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  TextStream stream(*this, true);
  std::string text;
  for (int32_t id : ids) {
    check_id(id);
    text.append(stream.push(id));
  }
  return text.append(stream.finish());
}

std::string HfBpeTokenizer::piece(int32_t id) const {
  check_id(id);
  return pieces_[static_cast<size_t>(id)];
}

}  // namespace mmfree

#include "tokenizer/sentencepiece_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "util/error.h"
#include "util/strings.h"

namespace mmfree {

namespace {
constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // "▁", how SentencePiece writes a space
}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(std::string bytes, const TokenizerSettings& settings,
                                               const std::string& name)
    : Tokenizer(TokenizerKind::SentencePiece, std::move(bytes), settings, name) {
  // The library throws its own exceptions for some malformed models (an empty piece: "failed to
  // insert key: zero-length key", found by fuzzing); they are named as the file's fault here.
  sentencepiece::util::Status status;
  try {
    status = sp_.LoadFromSerializedProto(file_bytes());
  } catch (const std::exception& e) {
    throw Error(name + ": not a valid SentencePiece model (" + e.what() + ")");
  }
  check(status.ok() && sp_.GetPieceSize() > 0, name + ": not a valid SentencePiece model (" + status.ToString() + ")");
  const int n = sp_.GetPieceSize();
  token_bytes_.resize(static_cast<size_t>(n));
  for (int id = 0; id < n; ++id) {
    const std::string& p = sp_.IdToPiece(id);
    if (sp_.IsControl(id) || sp_.IsUnknown(id)) specials_.push_back({p, id, true});
    if (sp_.IsControl(id)) continue;  // no text
    if (sp_.IsByte(id)) {
      check(p.size() == 6 && p.starts_with("<0x") && p.ends_with(">") && std::isxdigit(static_cast<unsigned char>(p[3])) &&
                std::isxdigit(static_cast<unsigned char>(p[4])),
            name + ": byte piece " + std::to_string(id) + " is '" + p + "', not <0xNN>");
      token_bytes_[id] = std::string(1, static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));
    }
    else if (sp_.IsUnknown(id))
      token_bytes_[id] = sp_.DecodeIds({id});  // the library's surface for it, " ⁇ "
    else
      token_bytes_[id] = replace_all(p, kSpaceSymbol, " ");
  }
  // The model's normalizer spec (add_dummy_prefix) is not in the public headers: ask the decoder
  // whether it drops the space of a first piece that starts with one.
  for (int id = 0; id < n; ++id) {
    if (sp_.IsControl(id) || sp_.IsByte(id) || sp_.IsUnknown(id) || token_bytes_[id].size() < 2 ||
        token_bytes_[id][0] != ' ')
      continue;
    strip_leading_spaces_ = sp_.DecodeIds({id}) == token_bytes_[id] ? 0 : 1;
    break;
  }
  finish_setup(sp_.bos_id(), sp_.eos_id(), true, false);

  // Word-by-word encoding (see encode_plain) needs pieces where "▁" only starts a token, and a
  // newline that no piece holds and the normalizer keeps (it comes out as the byte token).
  std::vector<std::string> pieces;
  for (int id = 0; id < n; ++id) pieces.push_back(sp_.IdToPiece(id));
  const bool newline_in_piece =
      std::any_of(pieces.begin(), pieces.end(), [](const std::string& p) { return p.find('\n') != std::string::npos; });
  std::vector<int> newline;
  encode_whole("\n", newline);
  if (!newline_in_piece && !newline.empty() && sp_.IsByte(newline.back()) && pieces[newline.back()] == "<0x0A>" &&
      marker_only_starts_tokens(pieces, kSpaceSymbol))
    newline_ids_ = newline;
}

void SentencePieceTokenizer::encode_whole(std::string_view text, std::vector<int>& ids) const {
  const auto status = sp_.Encode(text, &ids);
  check(status.ok(), name() + ": cannot encode: " + status.ToString());
}

void SentencePieceTokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<int> ids;
  // A "▁" written in the text becomes a space marker too, and words are split at spaces only.
  if (newline_ids_.empty() || text.find(kSpaceSymbol) != std::string_view::npos) {
    encode_whole(text, ids);
    out.insert(out.end(), ids.begin(), ids.end());
    return;
  }
  // The library's BPE slows down on long texts (0.5 MB/s on 5 MB) and repeats the work for every
  // word, so each distinct word goes through it once. The first word is encoded as it is (it gets
  // the dummy-prefix space); a later one after a newline, which merges with nothing and keeps it
  // from getting that space, and whose ids are then dropped.
  std::string buffer = "\n";
  const size_t skip = newline_ids_.size();
  encode_by_words(
      text, " ",
      [&](std::string_view word, bool first, std::vector<int32_t>& into) {
        if (first) {
          encode_whole(word, ids);
        } else {
          buffer.resize(1);
          encode_whole(buffer.append(word), ids);
          check(ids.size() >= skip && std::equal(newline_ids_.begin(), newline_ids_.end(), ids.begin()),
                name() + ": internal error: a newline did not separate words as the model promised");
        }
        into.insert(into.end(), ids.begin() + static_cast<std::ptrdiff_t>(first ? 0 : skip), ids.end());
      },
      out);
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids) const {
  for (int32_t id : ids) check_id(id);
  std::string text;
  const auto status = sp_.Decode(ids, &text);
  check(status.ok(), name() + ": cannot decode: " + status.ToString());
  return text;
}

std::string SentencePieceTokenizer::piece(int32_t id) const {
  check_id(id);
  return sp_.IdToPiece(id);
}

}  // namespace mmfree

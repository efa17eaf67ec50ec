#include "tokenizer/sentencepiece_tokenizer.h"

#include <algorithm>
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
  const auto status = sp_.LoadFromSerializedProto(file_bytes());
  check(status.ok() && sp_.GetPieceSize() > 0, name + ": not a valid SentencePiece model (" + status.ToString() + ")");
  const int n = sp_.GetPieceSize();
  token_bytes_.resize(static_cast<size_t>(n));
  for (int id = 0; id < n; ++id) {
    const std::string& p = sp_.IdToPiece(id);
    if (sp_.IsControl(id) || sp_.IsUnknown(id)) specials_.push_back({p, id, true});
    if (sp_.IsControl(id)) continue;  // no text
    if (sp_.IsByte(id))
      token_bytes_[id] = std::string(1, static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));  // "<0xNN>"
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

  bool newline_in_piece = false;
  for (int id = 0; id < n; ++id) newline_in_piece |= sp_.IdToPiece(id).find('\n') != std::string::npos;
  std::vector<int> newline;
  encode_whole("\n", newline);
  if (!newline_in_piece && !newline.empty() && newline.back() == sp_.PieceToId("<0x0A>")) newline_ids_ = newline;
}

void SentencePieceTokenizer::encode_whole(std::string_view text, std::vector<int>& ids) const {
  const auto status = sp_.Encode(text, &ids);
  check(status.ok(), name() + ": cannot encode: " + status.ToString());
}

void SentencePieceTokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  // The library's BPE slows down on long inputs (0.5 MB/s on a 5 MB text, 3 MB/s line by line).
  // A newline that no piece holds never merges with a neighbour, so the text splits after one
  // into parts that encode alone. A later part starts at that newline, so that it gets no
  // dummy-prefix space of its own; the ids of that leading "\n" are then dropped.
  constexpr size_t kPart = 4096;
  std::vector<int> ids;
  for (size_t start = 0; start < text.size();) {
    const size_t nl = newline_ids_.empty() ? std::string_view::npos : text.find('\n', start + kPart);
    const size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    const size_t later = start > 0 ? 1 : 0;
    encode_whole(text.substr(start - later, end - start + later), ids);
    const size_t skip = later * newline_ids_.size();
    check(ids.size() >= skip && std::equal(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(skip), newline_ids_.begin()),
          name() + ": internal error: a newline did not split the text as the model promised");
    out.insert(out.end(), ids.begin() + static_cast<std::ptrdiff_t>(skip), ids.end());
    start = end;
  }
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

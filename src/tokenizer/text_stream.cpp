#include "tokenizer/text_stream.h"

#include "util/utf8.h"

namespace mmfree {

namespace {
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
}

TextStream::TextStream(const Tokenizer& tok, bool at_text_start)
    : tok_(tok), strip_(at_text_start ? tok.leading_spaces_stripped() : 0) {
  pending_.reserve(64);
  ready_.reserve(64);
}

std::string_view TextStream::push(int32_t id) {
  std::string_view bytes = tok_.token_bytes(id);
  while (strip_ > 0 && !bytes.empty()) {
    if (bytes[0] != ' ') {
      strip_ = 0;
      break;
    }
    bytes.remove_prefix(1);
    --strip_;
  }
  pending_.append(bytes);
  return drain(false);
}

std::string_view TextStream::finish() { return drain(true); }

std::string_view TextStream::drain(bool final) {
  ready_.clear();
  size_t pos = 0, len = 0;
  while (pos < pending_.size()) {
    const Utf8Sequence kind = utf8_sequence(pending_, pos, &len);
    if (kind == Utf8Sequence::Incomplete && !final) break;
    if (kind == Utf8Sequence::Complete) {
      ready_.append(pending_, pos, len);
    } else {
      ready_.append(kReplacement);  // one per byte, as the Hugging Face ByteFallback decoder does
      len = 1;
    }
    pos += len;
  }
  pending_.erase(0, pos);
  return ready_;
}

}  // namespace mmfree

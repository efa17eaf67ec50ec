#include "jinja/lexer.h"

#include <cctype>

#include "jinja/error.h"

namespace mmfree::jinja {

namespace {

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string normalise_newlines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out += '\n';
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out += s[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // Jinja's keep_trailing_newline=False
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(normalise_newlines(source)) {}

  std::vector<Token> run() {
    bool line_starts = true;  // the text that follows begins a line (for lstrip_blocks)
    while (pos_ < src_.size()) {
      const size_t tag = find_tag(pos_);
      std::string text = src_.substr(pos_, tag - pos_);
      if (tag == src_.size()) {
        emit_text(std::move(text), pos_);
        break;
      }
      const char kind = src_[tag + 1];
      const char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (sign == '-') {
        text.erase(text.find_last_not_of(" \t\n\r\v\f") + 1);
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: only whitespace between the line's start and a block or comment tag.
        const size_t line_pos = text.rfind('\n') + 1;  // npos + 1 == 0
        const bool only_space = line_pos < text.size() && text.find_first_not_of(" \t\v\f\r", line_pos) == std::string::npos;
        if ((line_pos > 0 || line_starts) && only_space) text.resize(line_pos);
      }
      emit_text(std::move(text), pos_);
      const size_t body = tag + 2 + (sign == '-' || sign == '+' ? 1 : 0);
      const size_t end = kind == '#' ? comment(tag, body) : tag_tokens(kind, tag, body);
      line_starts = end > 0 && src_[end - 1] == '\n';
      pos_ = end;
    }
    tokens_.push_back({Tok::End, "", line_of(src_.size()), column_of(src_.size())});
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return src_.size();
  }

  void emit_text(std::string text, size_t at) {
    if (!text.empty()) tokens_.push_back({Tok::Text, std::move(text), line_of(at), column_of(at)});
  }

  // After a tag's closing characters: `-` strips all whitespace, a block or comment end also
  // drops one newline (trim_blocks) unless written `+%}`. Returns where the text resumes.
  size_t after_end(size_t close_end, char strip_sign, bool block) const {
    size_t p = close_end;
    if (strip_sign == '-') {
      while (p < src_.size() && space(src_[p])) ++p;
    } else if (block && strip_sign != '+' && p < src_.size() && src_[p] == '\n') {
      ++p;
    }
    return p;
  }

  size_t comment(size_t tag, size_t body) {
    const size_t close = src_.find("#}", body);
    if (close == std::string::npos) fail(tag, "the comment '{#' is never closed with '#}'");
    const char sign = close > body && (src_[close - 1] == '-' || src_[close - 1] == '+') ? src_[close - 1] : '\0';
    return after_end(close + 2, sign, true);
  }

  // The tokens of one {{ ... }} or {% ... %}; returns where the text resumes.
  size_t tag_tokens(char kind, size_t tag, size_t body) {
    const bool block = kind == '%';
    const char closer = block ? '%' : '}';
    tokens_.push_back({block ? Tok::BlockBegin : Tok::VarBegin, "", line_of(tag), column_of(tag)});
    size_t p = body;
    std::string brackets;  // the closers expected; `}}` inside a dict literal does not close the tag
    for (;;) {
      while (p < src_.size() && space(src_[p])) ++p;
      if (p >= src_.size()) fail(tag, std::string("the tag '{") + kind + "' is never closed with '" + closer + "}'");
      const char c = src_[p];
      if (brackets.empty()) {
        for (const char sign : {'-', '+', '\0'}) {
          const size_t q = p + (sign ? 1 : 0);
          if ((sign == 0 || c == sign) && q + 1 < src_.size() && src_[q] == closer && src_[q + 1] == '}' &&
              (block || sign != '+')) {
            tokens_.push_back({block ? Tok::BlockEnd : Tok::VarEnd, "", line_of(p), column_of(p)});
            return after_end(q + 2, sign, block);
          }
        }
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t e = p;
        while (e < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
        push(Tok::Name, src_.substr(p, e - p), p);
        p = e;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        p = number(p);
      } else if (c == '\'' || c == '"') {
        p = string(p);
      } else {
        p = op(p, brackets);
      }
    }
  }

  size_t number(size_t p) {
    size_t e = p;
    std::string digits;
    while (e < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) {
      if (src_[e] != '_') digits += src_[e];
      ++e;
    }
    if (e + 1 < src_.size() && (src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1])))) {
      fail(p, "floating-point numbers are not supported by this template engine");
    }
    if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) fail(p, "floating-point numbers are not supported by this template engine");
    push(Tok::Int, digits, p);
    return e;
  }

  // A quoted string with Python's escapes.
  size_t string(size_t p) {
    const char quote = src_[p];
    std::string value;
    size_t i = p + 1;
    for (;;) {
      if (i >= src_.size()) fail(p, "a string is never closed");
      const char c = src_[i];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++i;
        continue;
      }
      if (i + 1 >= src_.size()) fail(p, "a string is never closed");
      const char e = src_[i + 1];
      i += 2;
      switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case 'a': value += '\a'; break;
        case '0': value += '\0'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case '\n': break;  // a backslash-newline continues the line
        case 'x': value += code_point(i, 2, p); break;
        case 'u': value += code_point(i, 4, p); break;
        case 'U': value += code_point(i, 8, p); break;
        default:  // Python keeps an unknown escape as written
          value += '\\';
          value += e;
      }
    }
    push(Tok::String, std::move(value), p);
    return i + 1;
  }

  // `digits` hex digits at src_[i..] as UTF-8; advances i.
  std::string code_point(size_t& i, int digits, size_t at) {
    uint32_t cp = 0;
    for (int k = 0; k < digits; ++k, ++i) {
      if (i >= src_.size() || !std::isxdigit(static_cast<unsigned char>(src_[i]))) fail(at, "a string has a malformed \\x, \\u or \\U escape");
      const char h = src_[i];
      cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail(at, "a string escapes a code point that is not valid");
    std::string out;
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return out;
  }

  size_t op(size_t p, std::string& brackets) {
    for (const char* two : {"**", "//", "==", "!=", "<=", ">="}) {
      if (src_.compare(p, 2, two) == 0) {
        push(Tok::Op, two, p);
        return p + 2;
      }
    }
    const char c = src_[p];
    if (std::string_view("+-*/%~<>=.,:|()[]{}").find(c) == std::string_view::npos) {
      fail(p, std::string("unexpected character '") + c + "'");
    }
    if (c == '(' || c == '[' || c == '{') brackets += c == '(' ? ')' : c == '[' ? ']' : '}';
    if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty() || brackets.back() != c) {
        fail(p, std::string("unexpected '") + c + "'" + (brackets.empty() ? "" : std::string(", expected '") + brackets.back() + "'"));
      }
      brackets.pop_back();
    }
    push(Tok::Op, std::string(1, c), p);
    return p + 1;
  }

  void push(Tok type, std::string text, size_t at) { tokens_.push_back({type, std::move(text), line_of(at), column_of(at)}); }

  int line_of(size_t at) {
    // Tokens come in order, so the line count advances incrementally.
    for (; line_scan_ < at && line_scan_ < src_.size(); ++line_scan_) {
      if (src_[line_scan_] == '\n') {
        ++line_;
        line_start_ = line_scan_ + 1;
      }
    }
    return line_;
  }
  int column_of(size_t at) { return static_cast<int>(at - line_start_) + 1; }

  // Counts from the start: `at` may lie before the tokens already made.
  [[noreturn]] void fail(size_t at, const std::string& what) const {
    int line = 1;
    size_t start = 0;
    for (size_t i = 0; i < at && i < src_.size(); ++i) {
      if (src_[i] == '\n') {
        ++line;
        start = i + 1;
      }
    }
    throw Error(line, "column " + std::to_string(at - start + 1) + ": " + what);
  }

  std::string src_;
  size_t pos_ = 0;
  std::vector<Token> tokens_;
  size_t line_scan_ = 0, line_start_ = 0;
  int line_ = 1;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace mmfree::jinja

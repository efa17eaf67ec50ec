#include "jinja/text.h"

#include <cstdint>
#include <cstdio>

namespace mmfree::jinja {

namespace {

// The code point at s[i..], and its length in bytes; an invalid byte is itself, one byte long.
std::pair<uint32_t, size_t> decode(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return {b, 1};
  uint32_t cp = len == 1 ? b : b & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c >> 6) != 2) return {b, 1};
    cp = (cp << 6) | (c & 0x3F);
  }
  return {cp, len};
}

// Python's str.isspace().
bool is_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

void append_repr_string(std::string& out, const std::string& s) {
  const char quote = s.find('\'') != std::string::npos && s.find('"') == std::string::npos ? '"' : '\'';
  out += quote;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == quote || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += quote;
}

void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (const char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(ch));
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

// The growing text of repr() and to_json(), held within the budget's string bound.
class Writer {
 public:
  explicit Writer(Budget& b) : budget_(b) {}
  std::string& out() { return out_; }
  void check() {
    budget_.spend(1);
    if (out_.size() > budget_.limits().max_output_bytes) budget_.string_of(out_.size());
  }
  std::string take() {
    budget_.string_of(out_.size());
    return std::move(out_);
  }

 private:
  Budget& budget_;
  std::string out_;
};

void write_repr(const Value& v, Writer& w) {
  w.check();
  std::string& out = w.out();
  switch (v.kind()) {
    case Kind::String: append_repr_string(out, v.as_string()); return;
    case Kind::Undefined: out += "Undefined"; return;
    case Kind::List: {
      out += '[';
      for (size_t i = 0; i < v.as_list().size(); ++i) {
        if (i) out += ", ";
        write_repr(v.as_list()[i], w);
      }
      out += ']';
      return;
    }
    case Kind::Dict:
    case Kind::Namespace: {
      out += v.is(Kind::Namespace) ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [k, item] : v.as_dict()) {
        if (!first) out += ", ";
        first = false;
        append_repr_string(out, k);
        out += ": ";
        write_repr(item, w);
      }
      out += v.is(Kind::Namespace) ? "}>" : "}";
      return;
    }
    default: break;
  }
  switch (v.kind()) {
    case Kind::None: out += "None"; return;
    case Kind::Bool: out += v.as_int() ? "True" : "False"; return;
    case Kind::Int: out += std::to_string(v.as_int()); return;
    case Kind::Function: out += "<built-in function " + v.as_string() + ">"; return;
    default: return;
  }
}

void newline(std::string& out, int indent, int level) {
  if (indent < 0) return;
  out += '\n';
  out.append(static_cast<size_t>(indent * level), ' ');
}

void write_json(const Value& v, int indent, int level, Writer& w) {
  w.check();
  std::string& out = w.out();
  const char* comma = indent < 0 ? ", " : ",";
  switch (v.kind()) {
    case Kind::None: out += "null"; return;
    case Kind::Bool: out += v.as_int() ? "true" : "false"; return;
    case Kind::Int: out += std::to_string(v.as_int()); return;
    case Kind::String: append_json_string(out, v.as_string()); return;
    case Kind::List: {
      if (v.as_list().empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.as_list().size(); ++i) {
        if (i) out += comma;
        newline(out, indent, level + 1);
        write_json(v.as_list()[i], indent, level + 1, w);
      }
      newline(out, indent, level);
      out += ']';
      return;
    }
    case Kind::Dict: {
      if (v.as_dict().empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (const auto& [k, item] : v.as_dict()) {
        if (!first) out += comma;
        first = false;
        newline(out, indent, level + 1);
        append_json_string(out, k);
        out += ": ";
        write_json(item, indent, level + 1, w);
      }
      newline(out, indent, level);
      out += '}';
      return;
    }
    case Kind::Undefined: throw Error("tojson: an undefined value" + (v.undefined_name().empty() ? std::string() : " ('" + v.undefined_name() + "')") + " is not JSON");
    case Kind::Namespace: throw Error("tojson: a namespace is not JSON");
    case Kind::Function: throw Error("tojson: a function is not JSON");
  }
}

}  // namespace

std::string to_str(const Value& v, Budget& budget) {
  switch (v.kind()) {
    case Kind::String: return v.as_string();
    case Kind::Undefined: return "";
    default: return repr(v, budget);
  }
}

std::string repr(const Value& v, Budget& budget) {
  Writer w(budget);
  write_repr(v, w);
  return w.take();
}

std::string to_json(const Value& v, int indent, Budget& budget) {
  Writer w(budget);
  write_json(v, indent, 0, w);
  return w.take();
}

std::vector<size_t> code_points(std::string_view s) {
  std::vector<size_t> at;
  for (size_t i = 0; i < s.size(); i += decode(s, i).second) at.push_back(i);
  at.push_back(s.size());
  return at;
}

size_t code_point_count(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += decode(s, i).second) ++n;
  return n;
}

std::string strip(std::string_view s, const std::string* chars, bool left, bool right) {
  const auto strips = [&](uint32_t c) {
    if (!chars) return is_space(c);
    for (size_t i = 0; i < chars->size();) {
      const auto [d, len] = decode(*chars, i);
      if (d == c) return true;
      i += len;
    }
    return false;
  };
  const std::vector<size_t> at = code_points(s);
  size_t first = 0, last = at.size() - 1;  // code point indices [first, last)
  while (left && first < last && strips(decode(s, at[first]).first)) ++first;
  while (right && last > first && strips(decode(s, at[last - 1]).first)) --last;
  return std::string(s.substr(at[first], at[last] - at[first]));
}

std::string ascii_lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string ascii_upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

std::string capitalize(std::string_view s) {
  std::string out = ascii_lower(std::string(s));
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

std::string title(std::string_view s) {
  std::string out(s);
  bool word_start = true;
  for (char& c : out) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter) c = static_cast<char>(word_start ? (c >= 'a' ? c - 'a' + 'A' : c) : (c <= 'Z' ? c - 'A' + 'a' : c));
    word_start = !letter && !(c >= '0' && c <= '9') && !(static_cast<unsigned char>(c) >= 0x80);
  }
  return out;
}

}  // namespace mmfree::jinja

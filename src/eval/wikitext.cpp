#include "eval/wikitext.h"

#include "eval/pytext.h"
#include "util/strings.h"

namespace mmfree::eval {
namespace {

// Python's str.split("\n").
std::vector<std::string_view> split_newlines(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    const size_t end = s.find('\n', start);
    out.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::string join_lines(const std::vector<std::string_view>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out.append(i ? "\n" : "").append(lines[i]);
  return out;
}

bool is_page_heading(std::string_view line) {
  const std::string r(py::strip(replace_all(replace_all(line, "= = =", "==="), "= =", "==")));
  return r.starts_with("= ") && r.ends_with(" =");
}

// re.sub(open \s*([^close]*?)\s* close, open \1 close): each open..first-close pair loses the
// whitespace just inside it; scanning resumes after the close.
std::string tighten_pairs(std::string_view s, char open, char close) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t j = s[i] == open ? s.find(close, i + 1) : std::string_view::npos;
    if (j == std::string_view::npos) {
      out.push_back(s[i++]);
      continue;
    }
    out.append(1, open).append(py::strip(s.substr(i + 1, j - i - 1))).append(1, close);
    i = j + 1;
  }
  return out;
}

// re.sub(r"/' [0-9]/", r"/'[0-9]/", s): the replacement is the literal text "/'[0-9]/".
std::string slash_quote_digit(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s.substr(i, 3) == "/' " && i + 4 < s.size() && s[i + 3] >= '0' && s[i + 3] <= '9' && s[i + 4] == '/') {
      out += "/'[0-9]/";
      i += 5;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

}  // namespace

std::string restore_wikitext_raw(std::string_view copy) {
  auto lines = split_newlines(copy);
  std::vector<std::string> fixed;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (l.ends_with('\r')) l.remove_suffix(1);
    // The piece after the final "\n" is no line of the file, so it stays empty.
    fixed.emplace_back(l.empty() && i + 1 < lines.size() ? " " : std::string(l));
  }
  std::string out;
  for (size_t i = 0; i < fixed.size(); ++i) out.append(i ? "\n" : "").append(fixed[i]);
  return out;
}

std::vector<std::string> wikitext_pages(std::string_view raw) {
  std::vector<std::string> pages;
  std::vector<std::string_view> page;
  for (std::string_view line : split_newlines(raw)) {
    if (is_page_heading(line)) {
      std::string text = join_lines(page);
      if (!py::strip(text).empty()) pages.push_back(std::move(text));
      page.clear();
    }
    page.push_back(line);
  }
  pages.push_back(join_lines(page));
  return pages;
}

std::string wikitext_detokenize(std::string_view page) {
  std::string s = replace_all(page, "s '", "s'");
  s = slash_quote_digit(s);
  for (const auto& [from, to] : {std::pair{" @-@ ", "-"},
                                 {" @,@ ", ","},
                                 {" @.@ ", "."},
                                 {" : ", ": "},
                                 {" ; ", "; "},
                                 {" . ", ". "},
                                 {" ! ", "! "},
                                 {" ? ", "? "},
                                 {" , ", ", "}})
    s = replace_all(s, from, to);
  for (const auto& [open, close] : {std::pair{'(', ')'}, {'[', ']'}, {'{', '}'}, {'"', '"'}, {'\'', '\''}})
    s = tighten_pairs(s, open, close);
  for (const auto& [from, to] : {std::pair{"= = = =", "===="},
                                 {"= = =", "==="},
                                 {"= =", "=="},
                                 {" \xC2\xB0 ", "\xC2\xB0"},
                                 {" \n", "\n"},
                                 {"\n ", "\n"},
                                 {" N ", " 1 "},
                                 {" 's", "'s"}})
    s = replace_all(s, from, to);
  return s;
}

}  // namespace mmfree::eval

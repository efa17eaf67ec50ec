#include "util/spelling.h"

#include <algorithm>
#include <numeric>

namespace mmfree {

size_t edit_distance(const std::string& a, const std::string& b) {
  // d[i][j]: distance from a[0, i) to b[0, j), three rows kept (a swap looks two rows back).
  std::vector<std::vector<size_t>> d(3, std::vector<size_t>(b.size() + 1));
  std::iota(d[0].begin(), d[0].end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    auto& row = d[i % 3];
    const auto& up = d[(i - 1) % 3];
    const auto& up2 = d[(i + 1) % 3];  // row i - 2
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      row[j] = std::min({up[j] + 1, row[j - 1] + 1, up[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) row[j] = std::min(row[j], up2[j - 2] + 1);
    }
  }
  return d[a.size() % 3][b.size()];
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::vector<const std::string*> extensions;
  for (const auto& c : candidates)
    if (c.size() > word.size() && c.compare(0, word.size(), word) == 0) extensions.push_back(&c);
  if (extensions.size() == 1) return *extensions[0];
  const size_t limit = std::max<size_t>(1, word.size() / 3);
  size_t best = limit + 1;
  std::string found;
  bool tie = false;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best) best = d, found = c, tie = false;
    else if (d == best && c != found) tie = true;
  }
  return tie ? std::string() : found;
}

}  // namespace mmfree

#pragma once
// "Did you mean ...?" for a mistyped flag or command name.
#include <string>
#include <vector>

namespace mmfree {

// Edit distance: insertions, deletions, substitutions and swaps of two neighbours ("trian" -> "train"),
// each costing 1 (the optimal string alignment distance).
size_t edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `word`: the only one that `word` is a prefix of, else the one at the
// smallest edit distance when that is at most a third of the word's length (at least 1). "" when
// none is close enough or two are equally close.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace mmfree

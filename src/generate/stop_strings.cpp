#include "generate/stop_strings.h"

#include <algorithm>

#include "util/error.h"

namespace mmfree {

StopStrings::StopStrings(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (const auto& s : stops_) check(!s.empty(), "--stop: a stop string must not be empty");
}

std::string_view StopStrings::push(std::string_view text) {
  ready_.clear();
  if (stopped_) return ready_;
  held_.append(text);
  size_t first = std::string::npos;
  for (const auto& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    stopped_ = true;
    ready_.assign(held_, 0, first);
    held_.clear();
    return ready_;
  }
  // Hold back the longest tail that a stop string starts with.
  size_t hold = 0;
  for (const auto& s : stops_)
    for (size_t k = std::min(s.size() - 1, held_.size()); k > hold; --k)
      if (std::string_view(held_).substr(held_.size() - k) == std::string_view(s).substr(0, k)) {
        hold = k;
        break;
      }
  ready_.assign(held_, 0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return ready_;
}

std::string_view StopStrings::finish() {
  ready_.clear();
  if (!stopped_) ready_.swap(held_);
  return ready_;
}

}  // namespace mmfree

#include "train/progress_text.h"

#include <cstdio>

namespace mmfree {

std::string progress_line(const StepReport& r, int bar_width) {
  std::string line;
  if (bar_width > 0) {
    const double done = r.steps > 0 ? static_cast<double>(r.step + 1) / static_cast<double>(r.steps) : 1.0;
    line = progress_bar(done, bar_width) + " ";
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "step %lld/%lld  loss %.4f  lr %.2e  %s tok/s  ETA %s", static_cast<long long>(r.step + 1),
                static_cast<long long>(r.steps), r.loss, r.lr, format_rate(r.tokens_per_s).c_str(),
                format_duration(r.eta_s).c_str());
  line.append(buf);
  return line;
}

}  // namespace mmfree

#include "train/progress_text.h"

#include <cmath>
#include <cstdio>

namespace mmfree {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long long s = std::llround(seconds);
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s / 60 % 60);
  return buf;
}

std::string format_rate(double v) {
  char buf[32];
  if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

std::string progress_line(const StepReport& r, int bar_width) {
  std::string line;
  if (bar_width > 0) {
    const double done = r.steps > 0 ? static_cast<double>(r.step + 1) / static_cast<double>(r.steps) : 1.0;
    const int full = static_cast<int>(done * bar_width);
    line.push_back('[');
    line.append(static_cast<size_t>(full), '#');
    line.append(static_cast<size_t>(bar_width - full), '.');
    line.append("] ");
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "step %lld/%lld  loss %.4f  lr %.2e  %s tok/s  ETA %s", static_cast<long long>(r.step + 1),
                static_cast<long long>(r.steps), r.loss, r.lr, format_rate(r.tokens_per_s).c_str(),
                format_duration(r.eta_s).c_str());
  line.append(buf);
  return line;
}

}  // namespace mmfree

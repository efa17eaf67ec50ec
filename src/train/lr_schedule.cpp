#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "util/error.h"

namespace mmfree {

LrScheduleKind parse_lr_schedule(const std::string& s) {
  if (s == "constant") return LrScheduleKind::Constant;
  if (s == "cosine") return LrScheduleKind::Cosine;
  if (s == "paper") return LrScheduleKind::Paper;
  throw Error("--lr-schedule: '" + s + "' is not one of constant, cosine, paper");
}

const char* lr_schedule_name(LrScheduleKind k) {
  switch (k) {
    case LrScheduleKind::Constant: return "constant";
    case LrScheduleKind::Cosine: return "cosine";
    case LrScheduleKind::Paper: return "paper";
  }
  return "?";
}

double LrSchedule::at(int64_t step) const {
  if (kind == LrScheduleKind::Constant) return peak;
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double span = static_cast<double>(std::max<int64_t>(total_steps - warmup, 1));
  const double progress = std::min(static_cast<double>(step - warmup) / span, 1.0);
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  const double height = (kind == LrScheduleKind::Paper && 2 * step >= total_steps) ? 0.5 : 1.0;
  return min_lr + height * (peak - min_lr) * cosine;
}

}  // namespace mmfree

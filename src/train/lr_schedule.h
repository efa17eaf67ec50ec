#pragma once
// Learning-rate schedules. lr(s) is the rate of the update that takes the weights from step s to
// s + 1 (s = 0 .. total_steps - 1).
//   constant: peak.
//   cosine:   linear warmup peak*(s+1)/warmup for s < warmup, then
//             min + (peak - min) * (1 + cos(pi * p)) / 2 with p = (s - warmup) / (total - warmup).
//   paper:    the paper's two-stage schedule (Zhu et al. 2024, following BitNet b1.58's training tips):
//             the cosine above, whose amplitude is halved from mid-training on:
//             min + h(s) * (peak - min) * (1 + cos(pi * p)) / 2, h(s) = 1 for s < total/2, else 1/2,
//             so the rate drops at once to half of the cosine at s = total/2 and then decays to min.
#include <cstdint>
#include <string>

namespace mmfree {

enum class LrScheduleKind { Constant, Cosine, Paper };

// "constant" | "cosine" | "paper"; throws Error naming the flag otherwise.
LrScheduleKind parse_lr_schedule(const std::string& s);
const char* lr_schedule_name(LrScheduleKind k);

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::Constant;
  double peak = 1e-3, min_lr = 0;
  int64_t warmup = 0, total_steps = 1;

  double at(int64_t step) const;
};

}  // namespace mmfree

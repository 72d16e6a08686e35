#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/suggest.h"

namespace imagefit {

std::string to_string(Schedule s) {
  switch (s) {
    case Schedule::Auto: return "auto";
    case Schedule::Constant: return "constant";
    case Schedule::Cosine: return "cosine";
    case Schedule::OneCycle: return "onecycle";
  }
  return "auto";
}

Schedule schedule_from_string(const std::string& s) {
  if (s == "auto") return Schedule::Auto;
  if (s == "constant") return Schedule::Constant;
  if (s == "cosine") return Schedule::Cosine;
  if (s == "onecycle") return Schedule::OneCycle;
  throw UsageError("--schedule " + s + ": expected auto, constant, cosine or onecycle" +
                   did_you_mean(s, {"auto", "constant", "cosine", "onecycle"}));
}

namespace {
// From `start` at pct 0 to `end` at pct 1 along half a cosine (PyTorch's _annealing_cos).
double anneal(double start, double end, double pct) { return end + (start - end) / 2 * (std::cos(M_PI * pct) + 1); }
}  // namespace

double learning_rate_factor(Schedule s, size_t step, size_t steps_per_epoch, size_t total_steps) {
  switch (s) {
    case Schedule::Auto:
    case Schedule::Constant:
      return 1;
    case Schedule::Cosine: {
      const double warm = double(std::max<size_t>(1, steps_per_epoch));
      if (double(step) < warm) return double(step + 1) / warm;
      return 0.5 * (1 + std::cos(M_PI * (double(step) - warm) / std::max(1.0, double(total_steps) - warm)));
    }
    case Schedule::OneCycle: {
      // torch.optim.lr_scheduler.OneCycleLR(max_lr, total_steps, pct_start=0.3, anneal_strategy="cos",
      // div_factor=25, final_div_factor=1e4, three_phase=False), as a fraction of max_lr.
      const double initial = 1.0 / 25, low = initial / 1e4;
      const double up_end = 0.3 * double(total_steps) - 1, down_end = double(total_steps) - 1;
      const double t = double(std::min(step, total_steps > 0 ? total_steps - 1 : 0));
      if (t <= up_end) return anneal(initial, 1, up_end > 0 ? t / up_end : 1);
      return anneal(1, low, (t - up_end) / std::max(1e-12, down_end - up_end));
    }
  }
  return 1;
}

}  // namespace imagefit

#pragma once
// Learning-rate schedules: the factor each optimizer step multiplies the base learning rates by.
// Torch-free, so the formulas are unit-tested against PyTorch's own schedulers.
#include <cstddef>
#include <string>

namespace imagefit {

enum class Schedule {
  Auto,      // the plan's choice: cosine when fine-tuning, constant from scratch (the Keras tutorial's)
  Constant,  // the base learning rate throughout
  Cosine,    // a linear warm-up over the first epoch, then cosine decay to 0 (fine-tuning's default)
  OneCycle,  // PyTorch's OneCycleLR (fastai's fit_one_cycle): from max/25 up to the base rate over the
             // first 30% of the steps, then down to max/25/1e4, both halves cosine-annealed
};
std::string to_string(Schedule s);                    // "auto", "constant", "cosine", "onecycle"
Schedule schedule_from_string(const std::string& s);  // throws UsageError naming the choices

// The factor for optimizer step `step` (0-based) of `total_steps`, `steps_per_epoch` a epoch.
double learning_rate_factor(Schedule s, size_t step, size_t steps_per_epoch, size_t total_steps);

}  // namespace imagefit

#include "models/precision.h"

#include <ATen/autocast_mode.h>

#include "core/cpu_features.h"
#include "core/error.h"

namespace imagefit {

std::string to_string(Precision p) {
  switch (p) {
    case Precision::Auto: return "auto";
    case Precision::FP32: return "fp32";
    case Precision::BF16: return "bf16";
  }
  return "auto";
}

Precision precision_from_string(const std::string& s) {
  if (s == "auto") return Precision::Auto;
  if (s == "fp32" || s == "float32") return Precision::FP32;
  if (s == "bf16" || s == "bfloat16") return Precision::BF16;
  throw Error("--precision " + s + ": expected auto, fp32 or bf16");
}

Precision resolve_precision(Precision requested, bool cuda) {
  if (requested != Precision::Auto) return requested;
  return (cuda || cpu_has_native_bf16()) ? Precision::BF16 : Precision::FP32;
}

std::string describe_precision(Precision requested, Precision resolved, bool cuda) {
  const std::string name = to_string(resolved);
  if (requested != Precision::Auto) return name + " (--precision " + to_string(requested) + ")";
  if (cuda) return name + " mixed precision (CUDA autocast)";
  return resolved == Precision::BF16 ? name + " mixed precision (this CPU computes bf16 natively)"
                                     : name + " (this CPU has no native bf16)";
}

AutocastScope::AutocastScope(Precision resolved, bool cuda) : cuda_(cuda) {
  if (resolved != Precision::BF16) return;
  active_ = true;
  if (cuda) {
    previous_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = int(at::autocast::get_autocast_gpu_dtype());
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  } else {
    previous_enabled_ = at::autocast::is_cpu_enabled();
    previous_dtype_ = int(at::autocast::get_autocast_cpu_dtype());
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // The cast weights are cached while autocast is on; drop them when the outermost scope ends.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda_) {
    at::autocast::set_enabled(previous_enabled_);
    at::autocast::set_autocast_gpu_dtype(at::ScalarType(previous_dtype_));
  } else {
    at::autocast::set_cpu_enabled(previous_enabled_);
    at::autocast::set_autocast_cpu_dtype(at::ScalarType(previous_dtype_));
  }
}

}  // namespace imagefit

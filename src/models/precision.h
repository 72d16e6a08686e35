#pragma once
// --precision: fp32, or bf16 mixed precision (autocast: matrix products and convolutions in bf16,
// master weights, losses and optimizer state in fp32). Torch-free header.
#include <string>

namespace imagefit {

enum class Precision { Auto, FP32, BF16 };

std::string to_string(Precision p);                       // "auto", "fp32", "bf16"
Precision precision_from_string(const std::string& s);    // throws Error naming the choices
// Auto → bf16 where the hardware computes it natively (a CPU with avx512_bf16/amx_bf16, a CUDA
// device), else fp32. An explicit choice is kept.
Precision resolve_precision(Precision requested, bool cuda);
// One line saying why, for the plan ("bf16 (this CPU has avx512_bf16)").
std::string describe_precision(Precision requested, Precision resolved, bool cuda);

// Turns autocast on for the current thread while alive (autocast state is thread-local: the
// thread that runs forward must hold it). No-op for fp32.
class AutocastScope {
 public:
  AutocastScope(Precision resolved, bool cuda);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false, cuda_ = false, previous_enabled_ = false;
  int previous_dtype_ = 0;
};

}  // namespace imagefit

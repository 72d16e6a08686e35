#include "models/keras_ops.h"

#include <algorithm>
#include <ostream>

namespace imagefit::keras {

int64_t make_divisible(double v, int64_t divisor) {
  // Python: max(divisor, int(v + divisor / 2) // divisor * divisor), plus one divisor if < 0.9 v.
  int64_t rounded = std::max(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

namespace {
// (before, after) padding of one spatial dimension of size n, as TensorFlow computes "same".
std::pair<int64_t, int64_t> same_padding(int64_t n, int64_t kernel, int64_t stride) {
  const int64_t out = (n + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - n, 0);
  return {total / 2, total - total / 2};
}
}  // namespace

torch::Tensor pad_same(const torch::Tensor& x, int64_t kernel, int64_t stride, double value) {
  const auto [top, bottom] = same_padding(x.size(2), kernel, stride);
  const auto [left, right] = same_padding(x.size(3), kernel, stride);
  if (top == 0 && bottom == 0 && left == 0 && right == 0) return x;
  return torch::constant_pad_nd(x, {left, right, top, bottom}, value);
}

// hardtanh in fp32 (its fused backward is ~3× cheaper than clamp's: measured in a training-step
// profile); clamp in bf16, where LibTorch 1.13 has no CPU kernel for hardtanh's backward. The same values.
torch::Tensor relu6(const torch::Tensor& x) {
  return x.scalar_type() == torch::kBFloat16 ? torch::clamp(x, 0.0, 6.0) : torch::hardtanh(x, 0.0, 6.0);
}

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, int64_t groups) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).groups(groups).bias(false));
}

torch::nn::BatchNorm2d batch_norm(int64_t channels, double keras_momentum, double epsilon) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNormOptions(channels).eps(epsilon).momentum(1.0 - keras_momentum));
}

SeparableConv2dImpl::SeparableConv2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t padding) {
  depthwise = register_module("depthwise", conv(in, in, kernel, 1, padding, in));
  pointwise = register_module("pointwise", conv(in, out, 1, 1, 0));
}

torch::Tensor SeparableConv2dImpl::forward(const torch::Tensor& x) { return pointwise->forward(depthwise->forward(x)); }

namespace {
// Module::parameters_ is protected: a pointer to it formed in a subclass reaches any module's. (A
// subclass of BatchNorm2dImpl did the same, but clang then emits construction vtables that need
// BatchNormImplBase's pretty_print, which LibTorch does not export: the sanitizer build, clang's,
// failed to link.)
struct ParameterTable : torch::nn::Module {
  static auto& of(torch::nn::Module& m) { return m.*(&ParameterTable::parameters_); }
};
}  // namespace

// A BatchNorm2d whose weight (gamma) is a buffer of ones: registered again as a buffer after the base
// class made it a parameter.
torch::nn::BatchNorm2d batch_norm_without_scale(int64_t channels, double keras_momentum) {
  torch::nn::BatchNorm2d bn(torch::nn::BatchNormOptions(channels).eps(1e-3).momentum(1.0 - keras_momentum));
  ParameterTable::of(*bn).erase("weight");
  bn->weight = bn->register_buffer("weight", torch::ones({channels}));
  return bn;
}

}  // namespace imagefit::keras

#include "models/tv_layers.h"

#include "models/keras_ops.h"

#include <algorithm>

namespace imagefit::tv {

torch::Tensor activate(const torch::Tensor& x, Activation activation) {
  switch (activation) {
    case Activation::None: return x;
    case Activation::ReLU: return torch::relu(x);
    case Activation::ReLU6: return keras::relu6(x);  // hardtanh, or clamp in bf16 (keras_ops.h)
    case Activation::Hardswish: return torch::hardswish(x);
    case Activation::Hardsigmoid: return torch::hardsigmoid(x);
    case Activation::SiLU: return torch::silu(x);
    case Activation::Sigmoid: return torch::sigmoid(x);
  }
  return x;
}

int64_t make_divisible(double value, int64_t divisor, int64_t min_value) {
  if (min_value <= 0) min_value = divisor;
  // Python: int(v + divisor / 2) // divisor * divisor (v > 0, so int() is floor).
  int64_t rounded = std::max(min_value, static_cast<int64_t>(value + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * value) rounded += divisor;
  return rounded;
}

void ActivationLayerImpl::pretty_print(std::ostream& stream) const {
  static const char* names[] = {"Identity", "ReLU", "ReLU6", "Hardswish", "Hardsigmoid", "SiLU", "Sigmoid"};
  stream << "torch::nn::" << names[static_cast<int>(activation_)] << "()";
}

Sequential conv_norm_activation(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
                                int64_t groups, Activation activation, const BatchNormSettings& bn) {
  Sequential block;
  block->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, kernel)
                                         .stride(stride)
                                         .padding((kernel - 1) / 2)
                                         .groups(groups)
                                         .bias(false)));
  block->push_back(
      torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out_channels).eps(bn.eps).momentum(bn.momentum)));
  if (activation != Activation::None) block->push_back(ActivationLayer(activation));
  return block;
}

SqueezeExcitationImpl::SqueezeExcitationImpl(int64_t input_channels, int64_t squeeze_channels, Activation activation,
                                             Activation scale_activation)
    : activation_(activation), scale_activation_(scale_activation) {
  fc1_ = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(input_channels, squeeze_channels, 1)));
  fc2_ = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze_channels, input_channels, 1)));
}

torch::Tensor SqueezeExcitationImpl::forward(torch::Tensor x) {
  auto scale = torch::adaptive_avg_pool2d(x, {1, 1});
  scale = fc2_->forward(activate(fc1_->forward(scale), activation_));
  return activate(scale, scale_activation_) * x;
}

}  // namespace imagefit::tv

#pragma once
// Building blocks shared by the torchvision-layout backbones (torchvision.ops.misc and
// torchvision.models._utils), registered under torchvision's names so state_dicts map by name.
#include <torch/torch.h>

#include <string>

namespace imagefit::tv {

enum class Activation { None, ReLU, ReLU6, Hardswish, Hardsigmoid, SiLU, Sigmoid };

torch::Tensor activate(const torch::Tensor& x, Activation activation);

// torchvision.models._utils._make_divisible: rounds a channel count to a multiple of `divisor`
// without dropping more than 10%.
int64_t make_divisible(double value, int64_t divisor, int64_t min_value = 0);

// A parameterless activation module, so that Sequential indices match torchvision's
// (nn.ReLU6, nn.Hardswish, nn.SiLU occupy an index there too).
class ActivationLayerImpl : public torch::nn::Cloneable<ActivationLayerImpl> {
 public:
  explicit ActivationLayerImpl(Activation activation) : activation_(activation) {}
  void reset() override {}
  torch::Tensor forward(const torch::Tensor& x) { return activate(x, activation_); }
  Activation activation() const { return activation_; }
  void pretty_print(std::ostream& stream) const override;

 private:
  Activation activation_;
};
TORCH_MODULE(ActivationLayer);

// nn.Sequential with a plain forward(Tensor), so that it can be nested in another Sequential
// (LibTorch's own Sequential cannot be; torchvision's C++ mnasnet does the same).
class SequentialImpl : public torch::nn::SequentialImpl {
 public:
  using torch::nn::SequentialImpl::SequentialImpl;
  torch::Tensor forward(torch::Tensor x) { return torch::nn::SequentialImpl::forward(x); }
};
TORCH_MODULE(Sequential);

struct BatchNormSettings {
  double eps = 1e-5;
  double momentum = 0.1;
};

// torchvision.ops.Conv2dNormActivation: Sequential(0: Conv2d without bias, 1: BatchNorm2d,
// 2: activation), padding (kernel - 1) / 2.
Sequential conv_norm_activation(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
                                int64_t groups, Activation activation, const BatchNormSettings& bn);

// torchvision.ops.SqueezeExcitation: x * scale_activation(fc2(activation(fc1(avgpool(x))))).
class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  SqueezeExcitationImpl(int64_t input_channels, int64_t squeeze_channels, Activation activation,
                        Activation scale_activation);
  torch::Tensor forward(torch::Tensor x);
  Activation activation() const { return activation_; }
  Activation scale_activation() const { return scale_activation_; }

 private:
  torch::nn::Conv2d fc1_{nullptr}, fc2_{nullptr};
  Activation activation_, scale_activation_;
};
TORCH_MODULE(SqueezeExcitation);

}  // namespace imagefit::tv

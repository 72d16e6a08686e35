#include "models/tv_mobilenet_v2.h"

#include "core/error.h"
#include "models/tv_layers.h"

namespace imagefit {

namespace {

using tv::Activation;

// torchvision.models.mobilenetv2.InvertedResidual: `conv` = [expand 1×1,] depthwise 3×3, project 1×1 + BN.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(int64_t in, int64_t out, int64_t stride, int64_t expand_ratio)
      : use_res_connect_(stride == 1 && in == out) {
    const int64_t hidden = in * expand_ratio;
    const tv::BatchNormSettings bn;
    tv::Sequential conv;
    if (expand_ratio != 1) conv->push_back(tv::conv_norm_activation(in, hidden, 1, 1, 1, Activation::ReLU6, bn));
    conv->push_back(tv::conv_norm_activation(hidden, hidden, 3, stride, hidden, Activation::ReLU6, bn));
    conv->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, out, 1).bias(false)));
    conv->push_back(torch::nn::BatchNorm2d(out));
    conv_ = register_module("conv", conv);
  }
  torch::Tensor forward(torch::Tensor x) { return use_res_connect_ ? x + conv_->forward(x) : conv_->forward(x); }

 private:
  bool use_res_connect_;
  tv::Sequential conv_{nullptr};
};
TORCH_MODULE(InvertedResidual);

struct BlockSetting {
  int64_t expand_ratio, channels, repeats, stride;  // torchvision's t, c, n, s
};
const BlockSetting kSettings[] = {
    {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
};

}  // namespace

MobileNetV2Impl::MobileNetV2Impl(double width_mult) : width_mult_(width_mult) {
  if (!(width_mult > 0.0)) throw Error("mobilenet_v2: width multiplier (--alpha) must be positive");
  const tv::BatchNormSettings bn;
  int64_t in = tv::make_divisible(32 * width_mult, 8);
  last_channel_ = tv::make_divisible(1280 * std::max(1.0, width_mult), 8);
  torch::nn::Sequential features;
  features->push_back(tv::conv_norm_activation(3, in, 3, 2, 1, Activation::ReLU6, bn));
  for (const auto& s : kSettings) {
    const int64_t out = tv::make_divisible(s.channels * width_mult, 8);
    for (int64_t i = 0; i < s.repeats; ++i) {
      features->push_back(InvertedResidual(in, out, i == 0 ? s.stride : 1, s.expand_ratio));
      in = out;
    }
  }
  features->push_back(tv::conv_norm_activation(in, last_channel_, 1, 1, 1, Activation::ReLU6, bn));
  features_ = register_module("features", features);
}

torch::Tensor MobileNetV2Impl::forward(torch::Tensor x) { return features_->forward(x); }

std::vector<std::string> MobileNetV2Impl::stages() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < features_->size(); ++i) out.push_back("features." + std::to_string(i));
  return out;
}

}  // namespace imagefit

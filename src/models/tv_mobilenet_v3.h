#pragma once
// torchvision 0.14 MobileNetV3 (small and large) without its classifier: `features.0` … `features.N`
// with torchvision's parameter names (`features.4.block.2.fc1.weight`). BatchNorm eps 0.001 and
// momentum 0.01 as torchvision. Output: the last 1×1 conv + hardswish (576 / 960 channels).
#include "models/backbone.h"

namespace imagefit {

class MobileNetV3Impl : public BackboneImpl {
 public:
  enum class Size { Small, Large };
  explicit MobileNetV3Impl(Size size, double width_mult = 1.0);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_channels() const override { return feature_channels_; }
  std::vector<std::string> stages() const override;
  InputSpec input_spec() const override { return {224, Normalization::ImageNet}; }
  std::string arch() const override { return size_ == Size::Small ? "mobilenet_v3_small" : "mobilenet_v3_large"; }

 private:
  Size size_;
  int64_t feature_channels_ = 0;
  torch::nn::Sequential features_{nullptr};
};
TORCH_MODULE(MobileNetV3);

}  // namespace imagefit

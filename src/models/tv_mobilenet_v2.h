#pragma once
// torchvision 0.14 MobileNetV2 without its classifier: `features.0` … `features.18` with
// torchvision's parameter names (`features.3.conv.1.0.weight`), so a torchvision state_dict's
// `features.*` tensors load by name. Output: the last 1×1 conv (1280 channels at width 1.0).
#include "models/backbone.h"

namespace imagefit {

class MobileNetV2Impl : public BackboneImpl {
 public:
  // width_mult: torchvision's `width_mult` (Keras's alpha); channels rounded by _make_divisible(…, 8).
  explicit MobileNetV2Impl(double width_mult = 1.0);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_channels() const override { return last_channel_; }
  std::vector<std::string> stages() const override;
  InputSpec input_spec() const override { return {224, Normalization::ImageNet}; }
  std::string arch() const override { return "mobilenet_v2"; }
  double width_mult() const { return width_mult_; }

 private:
  double width_mult_;
  int64_t last_channel_ = 0;
  torch::nn::Sequential features_{nullptr};
};
TORCH_MODULE(MobileNetV2);

}  // namespace imagefit

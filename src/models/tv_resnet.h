#pragma once
// ResNet-18/34/50 in torchvision's layout (module names `conv1`, `bn1`, `layer1.0.conv1`,
// `layer2.0.downsample.0`, ...), as torchvision's own LibTorch port had it, without `fc`:
// the classification head is separate (models/head.h). ResNet-50 is torchvision's "v1.5"
// (stride 2 in the 3×3 convolution of the bottleneck).
#include "models/backbone.h"

namespace imagefit {

class ResNetImpl : public BackboneImpl {
 public:
  // depth: 18, 34 or 50.
  explicit ResNetImpl(int depth);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_channels() const override { return channels_; }
  // The stem's two modules, then the four residual stages.
  std::vector<std::string> stages() const override { return {"conv1", "bn1", "layer1", "layer2", "layer3", "layer4"}; }
  InputSpec input_spec() const override { return {224, Normalization::ImageNet}; }
  std::string arch() const override { return "resnet" + std::to_string(depth_); }

 private:
  int depth_;
  int64_t channels_ = 0;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Sequential layer1_{nullptr}, layer2_{nullptr}, layer3_{nullptr}, layer4_{nullptr};
};

}  // namespace imagefit

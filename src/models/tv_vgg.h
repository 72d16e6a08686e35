#pragma once
// torchvision 0.14 VGG-16 (configuration "D", no batch norm) without its classifier: `features.N`
// with torchvision's names (`features.28.weight`), ending with the fifth max pool (512 channels,
// 7×7 at 224×224). torchvision's avgpool to 7×7 and the three Linear layers are the top.
#include "models/backbone.h"

namespace imagefit {

class Vgg16Impl : public BackboneImpl {
 public:
  Vgg16Impl();
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_channels() const override { return 512; }
  std::vector<std::string> stages() const override { return stages_; }
  InputSpec input_spec() const override { return {224, Normalization::ImageNet}; }
  std::string arch() const override { return "vgg16"; }

 private:
  std::vector<std::string> stages_;  // one a convolution, `features.0` … `features.28`
  torch::nn::Sequential features_{nullptr};
};
TORCH_MODULE(Vgg16);

}  // namespace imagefit

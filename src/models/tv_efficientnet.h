#pragma once
// torchvision 0.14 EfficientNet-B0 without its classifier: `features.0` (stem), `features.1` …
// `features.7` (stages of MBConv blocks, `features.2.1.block.2.fc1.weight`), `features.8` (1×1
// conv to 1280 channels, the output). SiLU, BatchNorm eps 1e-5 / momentum 0.1 (torchvision's
// defaults for B0–B4), stochastic depth 0.2 × block index / 16 in training, identity in eval.
#include "models/backbone.h"

namespace imagefit {

class EfficientNetB0Impl : public BackboneImpl {
 public:
  explicit EfficientNetB0Impl(double stochastic_depth_prob = 0.2);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_channels() const override { return 1280; }
  // The stem, each MBConv block (`features.2.0`, `features.2.1`, …) and the last conv: 18 stages.
  std::vector<std::string> stages() const override { return stages_; }
  InputSpec input_spec() const override { return {224, Normalization::ImageNet}; }
  std::string arch() const override { return "efficientnet_b0"; }

 private:
  std::vector<std::string> stages_;
  torch::nn::Sequential features_{nullptr};
};
TORCH_MODULE(EfficientNetB0);

}  // namespace imagefit

#pragma once
// torchvision 0.14 SqueezeNet 1.1 without its classifier (whose 1×1 conv `classifier.1` is the
// top): `features.N` with torchvision's names (`features.3.squeeze.weight`, `.expand1x1`,
// `.expand3x3`), max pools with ceil_mode. Output: the last Fire module (512 channels).
#include "models/backbone.h"

namespace imagefit {

class SqueezeNet11Impl : public BackboneImpl {
 public:
  SqueezeNet11Impl();
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_channels() const override { return 512; }
  std::vector<std::string> stages() const override { return stages_; }
  InputSpec input_spec() const override { return {224, Normalization::ImageNet}; }
  std::string arch() const override { return "squeezenet1_1"; }

 private:
  std::vector<std::string> stages_;  // the `features.N` that hold parameters
  torch::nn::Sequential features_{nullptr};
};
TORCH_MODULE(SqueezeNet11);

}  // namespace imagefit

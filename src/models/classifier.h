#pragma once
// A whole classifier: backbone (registered as "backbone") + head (registered as "head").
#include <torch/torch.h>

#include "models/backbone.h"
#include "models/head.h"

namespace imagefit {

class ClassifierImpl : public torch::nn::Module {
 public:
  ClassifierImpl(Backbone backbone, const HeadOptions& head);
  torch::Tensor forward(torch::Tensor x);  // normalized images → logits
  // The backbone's feature map, with the input in the memory layout the backbone runs fastest in.
  torch::Tensor features(torch::Tensor x);
  // Stages [first, last) of the backbone (BackboneImpl::run_stages), the input laid out as features() lays it.
  torch::Tensor run_stages(torch::Tensor x, size_t first, size_t last);
  Backbone backbone() const { return backbone_; }
  Head head() const { return head_; }

 private:
  Backbone backbone_;
  Head head_{nullptr};
  bool channels_last_ = false;
};

// Depthwise-convolution networks (MobileNets, EfficientNet) run ~1.5× faster on CPU with
// channels-last (NHWC) tensors in oneDNN; plain convolution stacks (ResNet, VGG) do not gain.
bool prefers_channels_last(const std::string& arch);
TORCH_MODULE(Classifier);

}  // namespace imagefit

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
  Backbone backbone() const { return backbone_; }
  Head head() const { return head_; }

 private:
  Backbone backbone_;
  Head head_{nullptr};
};
TORCH_MODULE(Classifier);

}  // namespace imagefit

#pragma once
// The backbone of a classifier as a frozen TorchScript graph, for inference only: traced once at the
// model's image size, then torch::jit::freeze folds each BatchNorm into its convolution and the
// weights into constants. On a CPU a MobileNet runs ~2.5× faster this way. Used where the backbone
// does not change: features for a frozen backbone, predict, serve, evaluate.
#include <torch/torch.h>
#include <torch/script.h>

#include "models/classifier.h"

namespace imagefit {

class FrozenFeatures {
 public:
  // `network` on its device (put in eval mode here); its weights are copied into the graph (later changes to
  // the network are not seen). Falls back to the network itself if tracing fails.
  FrozenFeatures(Classifier network, int64_t image_size);
  // N×3×S×S normalized images → the backbone's feature map (as network->features(x)).
  torch::Tensor operator()(const torch::Tensor& x);
  // Pooled features then the head: logits (as network->forward(x)).
  torch::Tensor logits(const torch::Tensor& x);
  bool frozen() const { return frozen_; }
  // How many nodes of a kind ("aten::batch_norm") the optimized graph has (tests: folding happened).
  int count_nodes(const std::string& kind) const;

 private:
  Classifier network_;
  torch::jit::Module graph_;
  bool frozen_ = false;
};

}  // namespace imagefit

#pragma once
// The backbone of a classifier as a frozen TorchScript graph, for inference only: traced once at the
// model's image size, then torch::jit::freeze folds each BatchNorm into its convolution and the
// weights into constants. On a CPU a MobileNet runs ~2.5× faster this way. Used where the backbone
// does not change: features for a frozen backbone, predict, serve, evaluate.
#include <torch/torch.h>
#include <torch/script.h>

#include "models/classifier.h"
#include "models/precision.h"

namespace imagefit {

class FrozenFeatures {
 public:
  // `network` on its device (put in eval mode here); its weights are copied into the graph (later changes to
  // the network are not seen). Falls back to the network itself if tracing fails. `precision` (resolved:
  // fp32 or bf16) is how it runs: the graph is traced in fp32 and run under autocast for bf16.
  // `stages_end` < the backbone's stage count makes it the first stages only (run_stages(x, 0, end)):
  // the frozen bottom of a partly fine-tuned backbone (train/activation_cache.h); `stages_begin` > 0
  // the stages from there on, taking the bottom's output (the probe runs a backbone in two halves so
  // that it can keep the bottom's output for fine-tuning: top(bottom(x)) == the whole graph's output).
  FrozenFeatures(Classifier network, int64_t image_size, Precision precision = Precision::FP32,
                 size_t stages_end = size_t(-1), size_t stages_begin = 0);
  // N×3×S×S normalized images (or the output of stages [0, stages_begin)) → the backbone's feature
  // map (as network->features(x)) or the output of its last stage run, float32.
  torch::Tensor operator()(const torch::Tensor& x);
  // Pooled features then the head: logits (as network->forward(x)).
  torch::Tensor logits(const torch::Tensor& x);
  bool frozen() const { return frozen_; }
  // How many nodes of a kind ("aten::batch_norm") the optimized graph has (tests: folding happened).
  int count_nodes(const std::string& kind) const;

 private:
  torch::Tensor eager(const torch::Tensor& x);
  Classifier network_;
  torch::jit::Module graph_;
  bool frozen_ = false;
  Precision precision_;
  size_t stages_end_;
  size_t stages_begin_;
};

}  // namespace imagefit

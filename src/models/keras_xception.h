#pragma once
// keras.applications Xception (keras-xception) without its top: 2048 features, 299×299 by default, at
// least 71×71. block1: block1_conv1 3×3/2 and block1_conv2 3×3, both "valid" without bias, each with
// its BatchNormalization (`_bn`) and ReLU; blocks 2-4 and 13 (entry and exit flow): two
// SeparableConv2D `blockN_sepconvM` ("same", no bias) with `_bn`, a 3×3/2 "same" max pool, plus a
// 1×1/2 convolution + BatchNormalization on the residual branch, which Keras names automatically
// (`conv2d_1`..`conv2d_4`, `batch_normalization_1`..`_4` in the 2017 files); blocks 5-12 (middle
// flow): three separable convolutions on an identity residual; block14: two separable
// convolutions with ReLU. BatchNormalization epsilon 1e-3 (Keras's default). Modules nested by block
// and named as Keras names the layers: `block2.block2_sepconv1.depthwise`, `block2.conv2d_1`, ...
// Input: preprocess_input "tf" ([-1, 1]).
#include <string>
#include <vector>

#include "models/backbone.h"
#include "models/keras_ops.h"

namespace imagefit {

class KerasXceptionImpl : public BackboneImpl {
 public:
  KerasXceptionImpl();

  // block14_sepconv2_act (N×2048×h×w).
  torch::Tensor forward(torch::Tensor x) override;
  bool can_run_stages() const override { return true; }
  torch::Tensor run_stages(torch::Tensor x, size_t first, size_t last) override;

  int64_t feature_channels() const override { return 2048; }
  std::vector<std::string> stages() const override;  // "block1", ..., "block14"
  InputSpec input_spec() const override { return {299, Normalization::Symmetric}; }
  std::string arch() const override { return "keras-xception"; }

  static std::vector<keras::LayerSpec> keras_layers();
  static constexpr int64_t kMinSize = 71;  // Keras's min_size

 private:
  struct Block {
    std::vector<std::pair<torch::nn::AnyModule, torch::nn::BatchNorm2d>> units;  // conv / sepconv, its BN
    torch::nn::Conv2d residual{nullptr};  // 1×1/2 shortcut (entry and exit flow)
    torch::nn::BatchNorm2d residual_bn{nullptr};
  };
  torch::Tensor run_block(torch::Tensor x, size_t b);
  std::vector<Block> blocks_;
};

}  // namespace imagefit

#pragma once
// keras.applications.MobileNetV2 without its top, for any width multiplier alpha. Modules carry
// the Keras layer names (`Conv1`, `bn_Conv1`, `expanded_conv_depthwise`, `block_3_expand_BN`,
// `Conv_1`, `Conv_1_bn`, ...) so that a Keras .h5 file maps onto it by name, and the arithmetic is
// Keras's: TensorFlow "same" padding (the extra pixel of a stride-2 convolution at the
// bottom/right), BatchNormalization epsilon 1e-3, ReLU6, no convolution bias. Input x/127.5 - 1.
#include <string>
#include <utility>
#include <vector>

#include "models/backbone.h"

namespace imagefit {

class KerasMobileNetV2Impl : public BackboneImpl {
 public:
  explicit KerasMobileNetV2Impl(double alpha = 1.0);  // throws Error unless alpha > 0

  // Returns the last ReLU6 feature map (Keras `out_relu`), before pooling.
  torch::Tensor forward(torch::Tensor x) override;
  // forward that also appends the outputs of named Keras layers (`Conv1_relu`, `block_N_add` or
  // `block_N_project_BN`, `out_relu`) to `trace`, to locate where two implementations diverge.
  torch::Tensor forward_traced(torch::Tensor x, std::vector<std::pair<std::string, torch::Tensor>>* trace);

  bool can_run_stages() const override { return true; }
  torch::Tensor run_stages(torch::Tensor x, size_t first, size_t last) override;

  int64_t feature_channels() const override { return last_channels_; }
  // "Conv1", "bn_Conv1", "expanded_conv_", "block_1_", ..., "block_16_", "Conv_1" (+ "Conv_1_bn").
  std::vector<std::string> stages() const override;
  InputSpec input_spec() const override { return {224, Normalization::Symmetric}; }
  std::string arch() const override { return "keras-mobilenet-v2"; }
  double alpha() const { return alpha_; }

  // Output channels of every convolution, by Keras layer name, for a width multiplier: lets the
  // weights loader recognise alpha from a file's shapes without building networks.
  static std::vector<std::pair<std::string, int64_t>> conv_widths(double alpha);

 private:
  using Trace = std::vector<std::pair<std::string, torch::Tensor>>;
  torch::Tensor run_stage(torch::Tensor x, size_t stage, Trace* trace);
  struct Block {
    std::string prefix;  // "expanded_conv_" or "block_N_"
    int64_t stride;
    bool residual;
    torch::nn::Conv2d expand{nullptr}, depthwise{nullptr}, project{nullptr};
    torch::nn::BatchNorm2d expand_bn{nullptr}, depthwise_bn{nullptr}, project_bn{nullptr};
  };

  double alpha_;
  int64_t last_channels_;
  torch::nn::Conv2d conv1_{nullptr}, conv_last_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn_last_{nullptr};
  std::vector<Block> blocks_;
};

}  // namespace imagefit

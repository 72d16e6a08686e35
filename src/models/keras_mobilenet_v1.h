#pragma once
// keras.applications.MobileNet (V1) without its top, for any width multiplier alpha (depth
// multiplier 1, as every published weights file). Modules carry the Keras layer names (`conv1`,
// `conv1_bn`, `conv_dw_N`, `conv_dw_N_bn`, `conv_pw_N`, `conv_pw_N_bn`) so that a Keras .h5 file
// maps onto it by name, and the arithmetic is Keras's: ZeroPadding2D((0,1),(0,1)) before every
// stride-2 convolution, "same" (1 pixel) padding for the stride-1 depthwise ones, BatchNormalization
// epsilon 1e-3, ReLU6, no convolution bias. Input x/127.5 - 1.
#include <string>
#include <utility>
#include <vector>

#include "models/backbone.h"

namespace imagefit {

class KerasMobileNetV1Impl : public BackboneImpl {
 public:
  explicit KerasMobileNetV1Impl(double alpha = 1.0);  // throws Error unless alpha > 0

  // Returns the last ReLU6 feature map (Keras `conv_pw_13_relu`), before pooling.
  torch::Tensor forward(torch::Tensor x) override;
  // forward that also appends the outputs of Keras's `conv1_relu` and `conv_pw_N_relu` to `trace`.
  torch::Tensor forward_traced(torch::Tensor x, std::vector<std::pair<std::string, torch::Tensor>>* trace);

  bool can_run_stages() const override { return true; }
  torch::Tensor run_stages(torch::Tensor x, size_t first, size_t last) override;

  int64_t feature_channels() const override { return last_channels_; }
  // "conv1" (+ "conv1_bn"), then "conv_dw_1", "conv_pw_1", ..., "conv_dw_13", "conv_pw_13", each with
  // its BatchNorm (the depthwise and the pointwise half of a block have no common prefix).
  std::vector<std::string> stages() const override;
  InputSpec input_spec() const override { return {224, Normalization::Symmetric}; }
  std::string arch() const override { return "keras-mobilenet-v1"; }
  double alpha() const { return alpha_; }

  // Output channels of every convolution, by Keras layer name, for a width multiplier.
  static std::vector<std::pair<std::string, int64_t>> conv_widths(double alpha);

 private:
  using Trace = std::vector<std::pair<std::string, torch::Tensor>>;
  torch::Tensor run_stage(torch::Tensor x, size_t stage, Trace* trace);
  struct Block {
    int64_t stride;
    torch::nn::Conv2d depthwise{nullptr}, pointwise{nullptr};
    torch::nn::BatchNorm2d depthwise_bn{nullptr}, pointwise_bn{nullptr};
  };

  double alpha_;
  int64_t last_channels_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::vector<Block> blocks_;
};

}  // namespace imagefit

#pragma once
// The Keras tutorial's small convnet ("train a convnet from scratch on a small dataset"):
// Conv(32)-Pool-Conv(64)-Pool-Conv(128)-Pool-Conv(256)-Pool-Conv(256), all 3×3 ReLU.
// The Flatten-Dropout(0.5)-Dense top is the classifier head (models/head.h, pooling "flatten").
//
// Keras uses 'valid' convolutions, which shrink a small input to nothing (64×64 reaches 0×0
// before the last convolution). imagefit keeps 'valid' wherever the input to a convolution is at
// least 8 pixels (so 180×180 is exactly the tutorial's network) and uses 'same' below that;
// a pooling layer is skipped when its input is a single pixel.
#include "models/backbone.h"

namespace imagefit {

class SimpleCnnImpl : public BackboneImpl {
 public:
  explicit SimpleCnnImpl(int image_size);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_channels() const override { return 256; }
  std::vector<std::string> stages() const override { return {"conv1", "conv2", "conv3", "conv4", "conv5"}; }
  InputSpec input_spec() const override { return {image_size_, Normalization::Unit}; }
  std::string arch() const override { return "simple-cnn"; }
  // Spatial size of the output feature map for this image size.
  int output_size() const { return output_size_; }

 private:
  int image_size_;
  int output_size_ = 0;
  std::vector<torch::nn::Conv2d> convs_;
  std::vector<bool> pool_after_;
};

// Keras's default initialization for a network trained from scratch: every Conv2D and Dense kernel
// glorot_uniform, every bias zero. LibTorch's default (kaiming_uniform(a=√5), random bias) gives this
// network's inner layers 1.4–1.7× smaller weights than the tutorial's model starts with.
void init_like_keras(torch::nn::Module& network);

}  // namespace imagefit

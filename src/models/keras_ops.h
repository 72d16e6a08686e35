#pragma once
// The pieces of Keras arithmetic that Keras-layout backbones share, so that a network built here
// computes what its Keras original computes from the same weights.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace imagefit::keras {

// keras.applications' `_make_divisible`: rounds a channel count to a multiple of `divisor`
// (at least `divisor`), never going below 90% of `v`.
int64_t make_divisible(double v, int64_t divisor = 8);

// TensorFlow "same" padding for a k×k convolution with stride s: output ceil(n/s), and when the
// total padding is odd the extra pixel goes at the bottom/right (what ZeroPadding2D with
// `correct_pad` does in MobileNetV2).
torch::Tensor pad_same(const torch::Tensor& x, int64_t kernel, int64_t stride);

// Keras ReLU(6.): min(max(x, 0), 6).
torch::Tensor relu6(const torch::Tensor& x);

// A Keras Conv2D / DepthwiseConv2D without bias (groups == channels for depthwise). `padding` is
// symmetric; asymmetric Keras padding is applied by pad_same / explicit padding before the call.
torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, int64_t groups = 1);

// A Keras BatchNormalization: epsilon 1e-3; `keras_momentum` as Keras counts it (PyTorch's
// momentum is 1 - keras_momentum).
torch::nn::BatchNorm2d batch_norm(int64_t channels, double keras_momentum);

// A Keras BatchNormalization(scale=False) (InceptionV3): no gamma. The module's `weight` is a buffer
// of ones instead of a parameter, so it is never trained, while the module stays a BatchNorm2d (for
// folding, the frozen graph and export).
torch::nn::BatchNorm2d batch_norm_without_scale(int64_t channels, double keras_momentum);

// One weighted Keras layer of an architecture whose layers Keras names automatically (conv2d_N,
// batch_normalization_N): the weights loader matches a file's layers to these by name or by order.
struct LayerSpec {
  std::string module;          // the model's module path: "mixed0.conv2d_6"
  std::string name;            // the layer's name in keras.applications' 2016-2018 files: "conv2d_6"
  std::string kind;            // Keras's automatic-name prefix: "conv2d" or "batch_normalization"
  std::vector<int64_t> shape;  // convolution: the kernel as Keras stores it (H, W, in, out); BatchNorm: {channels}
  bool scale = true;           // BatchNorm: whether it has gamma
};

}  // namespace imagefit::keras

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
// `value` fills the border: 0 for convolutions, -inf for max pooling (TensorFlow's "same" max pool
// never takes a padded pixel).
torch::Tensor pad_same(const torch::Tensor& x, int64_t kernel, int64_t stride, double value = 0.0);

// Keras ReLU(6.): min(max(x, 0), 6).
torch::Tensor relu6(const torch::Tensor& x);

// A Keras Conv2D / DepthwiseConv2D without bias (groups == channels for depthwise). `padding` is
// symmetric; asymmetric Keras padding is applied by pad_same / explicit padding before the call.
torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, int64_t groups = 1);

// A Keras BatchNormalization: epsilon 1e-3 (Keras's default; keras.applications' ResNets use
// 1.001e-5); `keras_momentum` as Keras counts it (PyTorch's momentum is 1 - keras_momentum).
torch::nn::BatchNorm2d batch_norm(int64_t channels, double keras_momentum, double epsilon = 1e-3);

// A Keras BatchNormalization(scale=False) (InceptionV3): no gamma. The module's `weight` is a buffer
// of ones instead of a parameter, so it is never trained, while the module stays a BatchNorm2d (for
// folding, the frozen graph and export).
torch::nn::BatchNorm2d batch_norm_without_scale(int64_t channels, double keras_momentum);

// One weighted Keras layer of a keras.applications architecture, in Keras's creation order: the
// weights loader matches a file's layers to these. Explicitly named layers (block1_conv1,
// conv2_block1_0_conv) are matched by name; layers Keras names automatically (conv2d_N,
// batch_normalization_N) by name where the names fit, else by order among those of their kind.
struct LayerSpec {
  std::string module;          // the model's module path: "mixed0.conv2d_6"
  std::string name;            // the layer's name in keras.applications' files: "conv2d_6", "block1_conv1"
  std::string kind;            // "conv2d", "separable_conv2d" or "batch_normalization" (also the automatic-name prefix)
  std::vector<int64_t> shape;  // convolution: the kernel as Keras stores it (H, W, in, out); separable: (H, W, in,
                               // out) of its depthwise (H, W, in, 1) and pointwise (1, 1, in, out); BatchNorm: {channels}
  bool scale = true;           // BatchNorm: whether it has gamma
  bool automatic = true;       // the name is one Keras gives automatically (so a file may number it differently)
  bool bias = false;           // convolution: whether it has a bias
};

// A Keras SeparableConv2D without bias (Xception): a depthwise 3×3 (`depthwise`, groups = channels)
// then a pointwise 1×1 (`pointwise`), the module names the weights loader fills from the layer's
// depthwise_kernel and pointwise_kernel. Symmetric `padding` ("same" at stride 1).
struct SeparableConv2dImpl : torch::nn::Module {
  SeparableConv2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t padding);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d depthwise{nullptr}, pointwise{nullptr};
};
TORCH_MODULE(SeparableConv2d);

}  // namespace imagefit::keras

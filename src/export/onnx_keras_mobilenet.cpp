// ONNX export of the Keras-layout MobileNets (models/keras_mobilenet_v1.cpp, keras_mobilenet_v2.cpp).
// Keras pads stride-2 convolutions asymmetrically (the extra pixel at the bottom/right); the
// LibTorch modules pad explicitly before the convolution, the ONNX Conv carries it in `pads`.
#include <algorithm>

#include "core/error.h"
#include "export/onnx_architectures.h"

namespace imagefit::onnx_export {

namespace {

OnnxValue relu6(ModuleConverter& c, const OnnxValue& x, const std::string& name) {
  return c.activation(x, Activation::ReLU6, name);
}

// TensorFlow "same" padding of one dimension (keras_ops.cpp's pad_same): output ceil(n / stride),
// the odd pixel after.
std::pair<int64_t, int64_t> same_padding(int64_t n, int64_t kernel, int64_t stride) {
  const int64_t out = (n + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - n, 0);
  return {total / 2, total - total / 2};
}

Pads same_pads(const OnnxValue& x, const torch::nn::Conv2dImpl& conv) {
  const auto [top, bottom] = same_padding(x.height(), (*conv.options.kernel_size())[0], (*conv.options.stride())[0]);
  const auto [left, right] = same_padding(x.width(), (*conv.options.kernel_size())[1], (*conv.options.stride())[1]);
  return {top, left, bottom, right};
}

// ZeroPadding2D(((0, 1), (0, 1))).
const Pads kBottomRight{0, 0, 1, 1};

int64_t stride_of(const torch::nn::Conv2dImpl& conv) { return (*conv.options.stride())[0]; }

}  // namespace

OnnxValue export_keras_mobilenet_v1(ModuleConverter& c, const OnnxValue& input, const std::string& prefix) {
  const std::string p = prefix + ".";
  OnnxValue x = c.conv2d(input, p + "conv1", kBottomRight);
  x = relu6(c, c.batch_norm(x, p + "conv1_bn"), p + "conv1_relu");
  for (int id = 1; c.has(p + "conv_dw_" + std::to_string(id)); ++id) {
    const std::string dw = p + "conv_dw_" + std::to_string(id), pw = p + "conv_pw_" + std::to_string(id);
    const bool strided = stride_of(c.conv_module(dw)) != 1;
    x = c.conv2d(x, dw, strided ? kBottomRight : Pads{});
    x = relu6(c, c.batch_norm(x, dw + "_bn"), dw + "_relu");
    x = c.conv2d(x, pw);
    x = relu6(c, c.batch_norm(x, pw + "_bn"), pw + "_relu");
  }
  return x;
}

OnnxValue export_keras_mobilenet_v2(ModuleConverter& c, const OnnxValue& input, const std::string& prefix) {
  const std::string p = prefix + ".";
  OnnxValue x = c.conv2d(input, p + "Conv1", same_pads(input, c.conv_module(p + "Conv1")));
  x = relu6(c, c.batch_norm(x, p + "bn_Conv1"), p + "Conv1_relu");
  for (int id = 0;; ++id) {
    const std::string b = p + (id == 0 ? std::string("expanded_conv_") : "block_" + std::to_string(id) + "_");
    if (!c.has(b + "depthwise")) break;
    const OnnxValue in = x;
    if (c.has(b + "expand")) x = relu6(c, c.batch_norm(c.conv2d(x, b + "expand"), b + "expand_BN"), b + "expand_relu");
    const auto& depthwise = c.conv_module(b + "depthwise");
    const int64_t stride = stride_of(depthwise);
    // Stride 1: the convolution's own symmetric padding; stride 2: Keras's explicit ZeroPadding2D.
    x = c.conv2d(x, b + "depthwise", stride != 1 ? same_pads(x, depthwise) : Pads{});
    x = relu6(c, c.batch_norm(x, b + "depthwise_BN"), b + "depthwise_relu");
    x = c.batch_norm(c.conv2d(x, b + "project"), b + "project_BN");
    if (stride == 1 && in.channels() == x.channels()) x = c.builder().add(x, in, b + "add");
  }
  x = c.batch_norm(c.conv2d(x, p + "Conv_1"), p + "Conv_1_bn");
  return relu6(c, x, p + "out_relu");
}

}  // namespace imagefit::onnx_export

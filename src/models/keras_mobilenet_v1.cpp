#include "models/keras_mobilenet_v1.h"

#include <sstream>

#include "core/error.h"
#include "models/keras_ops.h"

namespace imagefit {

namespace {

// keras.applications.mobilenet: the stem has 32 filters, then these depthwise-separable blocks
// (pointwise filters, depthwise stride), conv_dw_1/conv_pw_1 to conv_dw_13/conv_pw_13.
struct SeparableSetting {
  int64_t filters, stride;
};
constexpr int64_t kStemFilters = 32;
constexpr SeparableSetting kSeparableSetting[] = {
    {64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1},  {512, 2},  {512, 1},
    {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1},
};
constexpr double kBatchNormMomentum = 0.99;  // Keras's default, for training in train mode

// Keras: filters = int(filters * alpha).
int64_t width(int64_t filters, double alpha) {
  if (!(alpha > 0)) {
    std::ostringstream s;
    s << "keras-mobilenet-v1: alpha must be positive (got " << alpha << ")";
    throw Error(s.str());
  }
  const auto w = static_cast<int64_t>(filters * alpha);
  if (w < 1) {
    std::ostringstream s;
    s << "keras-mobilenet-v1: alpha " << alpha << " is too small (a layer would have no channels)";
    throw Error(s.str());
  }
  return w;
}

// Keras's ZeroPadding2D(((0, 1), (0, 1))) before a stride-2 convolution.
torch::Tensor pad_bottom_right(const torch::Tensor& x) { return torch::constant_pad_nd(x, {0, 1, 0, 1}, 0); }

}  // namespace

std::vector<std::pair<std::string, int64_t>> KerasMobileNetV1Impl::conv_widths(double alpha) {
  int64_t in = width(kStemFilters, alpha);
  std::vector<std::pair<std::string, int64_t>> out = {{"conv1", in}};
  int id = 1;
  for (const auto& s : kSeparableSetting) {
    const std::string n = std::to_string(id++);
    out.emplace_back("conv_dw_" + n, in);
    in = width(s.filters, alpha);
    out.emplace_back("conv_pw_" + n, in);
  }
  return out;
}

KerasMobileNetV1Impl::KerasMobileNetV1Impl(double alpha) : alpha_(alpha) {
  int64_t in = width(kStemFilters, alpha);
  conv1_ = register_module("conv1", keras::conv(3, in, 3, 2, 0));
  bn1_ = register_module("conv1_bn", keras::batch_norm(in, kBatchNormMomentum));
  int id = 1;
  for (const auto& s : kSeparableSetting) {
    const std::string n = std::to_string(id++);
    const int64_t out = width(s.filters, alpha);
    Block b;
    b.stride = s.stride;
    b.depthwise = register_module("conv_dw_" + n, keras::conv(in, in, 3, s.stride, s.stride == 1 ? 1 : 0, in));
    b.depthwise_bn = register_module("conv_dw_" + n + "_bn", keras::batch_norm(in, kBatchNormMomentum));
    b.pointwise = register_module("conv_pw_" + n, keras::conv(in, out, 1, 1, 0));
    b.pointwise_bn = register_module("conv_pw_" + n + "_bn", keras::batch_norm(out, kBatchNormMomentum));
    blocks_.push_back(std::move(b));
    in = out;
  }
  last_channels_ = in;
}

torch::Tensor KerasMobileNetV1Impl::forward(torch::Tensor x) { return run_stages(std::move(x), 0, 2 * blocks_.size() + 1); }

torch::Tensor KerasMobileNetV1Impl::forward_traced(torch::Tensor x, Trace* trace) {
  for (size_t i = 0; i < 2 * blocks_.size() + 1; ++i) x = run_stage(std::move(x), i, trace);
  return x;
}

torch::Tensor KerasMobileNetV1Impl::run_stages(torch::Tensor x, size_t first, size_t last) {
  for (size_t i = first; i < last; ++i) x = run_stage(std::move(x), i, nullptr);
  return x;
}

// Stages as stages() names them: 0 "conv1", then for block N the depthwise half "conv_dw_N"
// (stage 2N-1) and the pointwise half "conv_pw_N" (stage 2N).
torch::Tensor KerasMobileNetV1Impl::run_stage(torch::Tensor x, size_t stage, Trace* trace) {
  if (stage == 0) {
    x = keras::relu6(bn1_->forward(conv1_->forward(pad_bottom_right(x))));
    if (trace) trace->emplace_back("conv1_relu", x);
    return x;
  }
  auto& b = blocks_.at((stage - 1) / 2);
  if (stage % 2 == 1) {
    if (b.stride != 1) x = pad_bottom_right(x);
    return keras::relu6(b.depthwise_bn->forward(b.depthwise->forward(x)));
  }
  x = keras::relu6(b.pointwise_bn->forward(b.pointwise->forward(x)));
  if (trace) trace->emplace_back("conv_pw_" + std::to_string(stage / 2) + "_relu", x);
  return x;
}

std::vector<std::string> KerasMobileNetV1Impl::stages() const {
  std::vector<std::string> s = {"conv1"};
  for (size_t i = 1; i <= blocks_.size(); ++i) {
    s.push_back("conv_dw_" + std::to_string(i));
    s.push_back("conv_pw_" + std::to_string(i));
  }
  return s;
}

}  // namespace imagefit

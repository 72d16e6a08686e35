#include "models/tv_mobilenet_v3.h"

#include "core/error.h"
#include "models/tv_layers.h"

namespace imagefit {

namespace {

using tv::Activation;

const tv::BatchNormSettings kBatchNorm{0.001, 0.01};

// torchvision.models.mobilenetv3.InvertedResidualConfig (dilation 1).
struct BlockConfig {
  int64_t in, kernel, expanded, out;
  bool use_se, use_hs;
  int64_t stride;
};

// torchvision.models.mobilenetv3.InvertedResidual: `block` = [expand,] depthwise, [SE,] project.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  explicit InvertedResidualImpl(const BlockConfig& c) : use_res_connect_(c.stride == 1 && c.in == c.out) {
    const Activation act = c.use_hs ? Activation::Hardswish : Activation::ReLU;
    tv::Sequential block;
    if (c.expanded != c.in) block->push_back(tv::conv_norm_activation(c.in, c.expanded, 1, 1, 1, act, kBatchNorm));
    block->push_back(tv::conv_norm_activation(c.expanded, c.expanded, c.kernel, c.stride, c.expanded, act, kBatchNorm));
    if (c.use_se)
      block->push_back(tv::SqueezeExcitation(c.expanded, tv::make_divisible(c.expanded / 4, 8), Activation::ReLU,
                                             Activation::Hardsigmoid));
    block->push_back(tv::conv_norm_activation(c.expanded, c.out, 1, 1, 1, Activation::None, kBatchNorm));
    block_ = register_module("block", block);
  }
  torch::Tensor forward(torch::Tensor x) {
    auto result = block_->forward(x);
    return use_res_connect_ ? result + x : result;
  }

 private:
  bool use_res_connect_;
  tv::Sequential block_{nullptr};
};
TORCH_MODULE(InvertedResidual);

// torchvision's _mobilenet_v3_conf tables at width 1.0: input, kernel, expanded, output, SE, "HS", stride.
const std::vector<BlockConfig> kLarge = {
    {16, 3, 16, 16, false, false, 1},    {16, 3, 64, 24, false, false, 2},   {24, 3, 72, 24, false, false, 1},
    {24, 5, 72, 40, true, false, 2},     {40, 5, 120, 40, true, false, 1},   {40, 5, 120, 40, true, false, 1},
    {40, 3, 240, 80, false, true, 2},    {80, 3, 200, 80, false, true, 1},   {80, 3, 184, 80, false, true, 1},
    {80, 3, 184, 80, false, true, 1},    {80, 3, 480, 112, true, true, 1},   {112, 3, 672, 112, true, true, 1},
    {112, 5, 672, 160, true, true, 2},   {160, 5, 960, 160, true, true, 1},  {160, 5, 960, 160, true, true, 1},
};
const std::vector<BlockConfig> kSmall = {
    {16, 3, 16, 16, true, false, 2},  {16, 3, 72, 24, false, false, 2}, {24, 3, 88, 24, false, false, 1},
    {24, 5, 96, 40, true, true, 2},   {40, 5, 240, 40, true, true, 1},  {40, 5, 240, 40, true, true, 1},
    {40, 5, 120, 48, true, true, 1},  {48, 5, 144, 48, true, true, 1},  {48, 5, 288, 96, true, true, 2},
    {96, 5, 576, 96, true, true, 1},  {96, 5, 576, 96, true, true, 1},
};

}  // namespace

MobileNetV3Impl::MobileNetV3Impl(Size size, double width_mult) : size_(size) {
  if (!(width_mult > 0.0)) throw Error(arch() + ": width multiplier (--alpha) must be positive");
  auto adjust = [&](int64_t channels) { return tv::make_divisible(channels * width_mult, 8); };
  std::vector<BlockConfig> blocks;
  for (const auto& s : size == Size::Small ? kSmall : kLarge)
    blocks.push_back({adjust(s.in), s.kernel, adjust(s.expanded), adjust(s.out), s.use_se, s.use_hs, s.stride});

  torch::nn::Sequential features;
  features->push_back(tv::conv_norm_activation(3, blocks.front().in, 3, 2, 1, Activation::Hardswish, kBatchNorm));
  for (const auto& b : blocks) features->push_back(InvertedResidual(b));
  const int64_t last_in = blocks.back().out;
  feature_channels_ = 6 * last_in;
  features->push_back(tv::conv_norm_activation(last_in, feature_channels_, 1, 1, 1, Activation::Hardswish, kBatchNorm));
  features_ = register_module("features", features);
}

torch::Tensor MobileNetV3Impl::forward(torch::Tensor x) { return features_->forward(x); }

std::vector<std::string> MobileNetV3Impl::stages() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < features_->size(); ++i) out.push_back("features." + std::to_string(i));
  return out;
}

}  // namespace imagefit

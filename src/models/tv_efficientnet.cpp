#include "models/tv_efficientnet.h"

#include <algorithm>

#include "models/tv_layers.h"

namespace imagefit {

namespace {

using tv::Activation;

const tv::BatchNormSettings kBatchNorm{1e-5, 0.1};

// torchvision.ops.stochastic_depth(mode="row"): in training, zero each sample's residual branch
// with probability p and scale the survivors by 1 / (1 - p).
torch::Tensor stochastic_depth(const torch::Tensor& x, double p, bool training) {
  if (!training || p == 0.0) return x;
  const double survival = 1.0 - p;
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  auto noise = torch::empty(shape, x.options()).bernoulli_(survival);
  if (survival > 0.0) noise.div_(survival);
  return x * noise;
}

// torchvision.models.efficientnet.MBConv: `block` = [expand 1×1,] depthwise k×k, SE, project 1×1.
class MBConvImpl : public torch::nn::Module {
 public:
  MBConvImpl(int64_t expand_ratio, int64_t kernel, int64_t stride, int64_t in, int64_t out,
             double stochastic_depth_prob)
      : use_res_connect_(stride == 1 && in == out), stochastic_depth_prob_(stochastic_depth_prob) {
    const int64_t expanded = tv::make_divisible(static_cast<double>(in * expand_ratio), 8);
    tv::Sequential block;
    if (expanded != in) block->push_back(tv::conv_norm_activation(in, expanded, 1, 1, 1, Activation::SiLU, kBatchNorm));
    block->push_back(
        tv::conv_norm_activation(expanded, expanded, kernel, stride, expanded, Activation::SiLU, kBatchNorm));
    block->push_back(
        tv::SqueezeExcitation(expanded, std::max<int64_t>(1, in / 4), Activation::SiLU, Activation::Sigmoid));
    block->push_back(tv::conv_norm_activation(expanded, out, 1, 1, 1, Activation::None, kBatchNorm));
    block_ = register_module("block", block);
  }
  torch::Tensor forward(torch::Tensor x) {
    auto result = block_->forward(x);
    if (!use_res_connect_) return result;
    return stochastic_depth(result, stochastic_depth_prob_, is_training()) + x;
  }

 private:
  bool use_res_connect_;
  double stochastic_depth_prob_;
  tv::Sequential block_{nullptr};
};
TORCH_MODULE(MBConv);

// torchvision's _efficientnet_conf("efficientnet_b0") (width and depth 1.0).
struct StageSetting {
  int64_t expand_ratio, kernel, stride, in, out, layers;
};
const StageSetting kB0[] = {
    {1, 3, 1, 32, 16, 1}, {6, 3, 2, 16, 24, 2},  {6, 5, 2, 24, 40, 2},   {6, 3, 2, 40, 80, 3},
    {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1},
};

}  // namespace

EfficientNetB0Impl::EfficientNetB0Impl(double stochastic_depth_prob) {
  torch::nn::Sequential features;
  stages_.push_back("features.0");
  features->push_back(tv::conv_norm_activation(3, kB0[0].in, 3, 2, 1, Activation::SiLU, kBatchNorm));
  int64_t total_blocks = 0;
  for (const auto& s : kB0) total_blocks += s.layers;
  int64_t block_id = 0;
  for (const auto& s : kB0) {
    const std::string prefix = "features." + std::to_string(features->size()) + ".";
    tv::Sequential stage;
    for (int64_t i = 0; i < s.layers; ++i) {
      const double p = stochastic_depth_prob * static_cast<double>(block_id++) / static_cast<double>(total_blocks);
      stages_.push_back(prefix + std::to_string(i));
      stage->push_back(MBConv(s.expand_ratio, s.kernel, i == 0 ? s.stride : 1, i == 0 ? s.in : s.out, s.out, p));
    }
    features->push_back(stage);
  }
  stages_.push_back("features." + std::to_string(features->size()));
  features->push_back(tv::conv_norm_activation(kB0[6].out, 1280, 1, 1, 1, Activation::SiLU, kBatchNorm));
  features_ = register_module("features", features);
}

torch::Tensor EfficientNetB0Impl::forward(torch::Tensor x) { return features_->forward(x); }

}  // namespace imagefit

#include "models/tv_vgg.h"

namespace imagefit {

namespace {
constexpr int kPool = 0;
// torchvision.models.vgg.cfgs["D"]: output channels of each 3×3 conv, kPool for a 2×2 max pool.
const int kConfigD[] = {64,  64,  kPool, 128, 128, kPool, 256, 256, 256,  //
                        kPool, 512, 512, 512, kPool, 512, 512, 512, kPool};
}  // namespace

Vgg16Impl::Vgg16Impl() {
  // torchvision.models.vgg.make_layers(batch_norm=False): conv, ReLU per entry; pools in between.
  torch::nn::Sequential f;
  int64_t in = 3;
  for (int channels : kConfigD) {
    if (channels == kPool) {
      f->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
      continue;
    }
    stages_.push_back("features." + std::to_string(f->size()));
    f->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, channels, 3).padding(1)));
    f->push_back(torch::nn::ReLU());
    in = channels;
  }
  features_ = register_module("features", f);
}

torch::Tensor Vgg16Impl::forward(torch::Tensor x) { return features_->forward(x); }

}  // namespace imagefit

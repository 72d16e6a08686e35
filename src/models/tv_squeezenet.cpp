#include "models/tv_squeezenet.h"

namespace imagefit {

namespace {

// torchvision.models.squeezenet.Fire: squeeze 1×1 → concat(expand 1×1, expand 3×3), all ReLU.
class FireImpl : public torch::nn::Module {
 public:
  FireImpl(int64_t in, int64_t squeeze, int64_t expand1x1, int64_t expand3x3) {
    using torch::nn::Conv2d, torch::nn::Conv2dOptions;
    squeeze_ = register_module("squeeze", Conv2d(Conv2dOptions(in, squeeze, 1)));
    expand1x1_ = register_module("expand1x1", Conv2d(Conv2dOptions(squeeze, expand1x1, 1)));
    expand3x3_ = register_module("expand3x3", Conv2d(Conv2dOptions(squeeze, expand3x3, 3).padding(1)));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(squeeze_->forward(x));
    return torch::cat({torch::relu(expand1x1_->forward(x)), torch::relu(expand3x3_->forward(x))}, 1);
  }

 private:
  torch::nn::Conv2d squeeze_{nullptr}, expand1x1_{nullptr}, expand3x3_{nullptr};
};
TORCH_MODULE(Fire);

torch::nn::MaxPool2d max_pool() {
  return torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).ceil_mode(true));
}

}  // namespace

SqueezeNet11Impl::SqueezeNet11Impl() {
  torch::nn::Sequential f;
  f->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 64, 3).stride(2)));  // 0
  f->push_back(torch::nn::ReLU());                                                // 1
  f->push_back(max_pool());                                                       // 2
  f->push_back(Fire(64, 16, 64, 64));                                             // 3
  f->push_back(Fire(128, 16, 64, 64));                                            // 4
  f->push_back(max_pool());                                                       // 5
  f->push_back(Fire(128, 32, 128, 128));                                          // 6
  f->push_back(Fire(256, 32, 128, 128));                                          // 7
  f->push_back(max_pool());                                                       // 8
  f->push_back(Fire(256, 48, 192, 192));                                          // 9
  f->push_back(Fire(384, 48, 192, 192));                                          // 10
  f->push_back(Fire(384, 64, 256, 256));                                          // 11
  f->push_back(Fire(512, 64, 256, 256));                                          // 12
  features_ = register_module("features", f);
  for (size_t i = 0; i < f->size(); ++i)
    if (!f->ptr(i)->parameters().empty()) stages_.push_back("features." + std::to_string(i));
}

torch::Tensor SqueezeNet11Impl::forward(torch::Tensor x) { return features_->forward(x); }

}  // namespace imagefit

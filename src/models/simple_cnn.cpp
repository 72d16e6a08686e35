#include "models/simple_cnn.h"

#include "core/error.h"

namespace imagefit {

SimpleCnnImpl::SimpleCnnImpl(int image_size) : image_size_(image_size) {
  if (image_size < 16) throw Error("simple-cnn needs --image-size of at least 16 (got " + std::to_string(image_size) + ")");
  const int channels[5] = {32, 64, 128, 256, 256};
  int in = 3, size = image_size;
  for (int i = 0; i < 5; ++i) {
    const bool valid = size >= 8;
    auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(in, channels[i], 3).padding(valid ? 0 : 1));
    convs_.push_back(register_module("conv" + std::to_string(i + 1), conv));
    if (valid) size -= 2;
    const bool pool = i < 4 && size >= 2;
    pool_after_.push_back(pool);
    if (pool) size /= 2;
    in = channels[i];
  }
  output_size_ = size;
}

torch::Tensor SimpleCnnImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < convs_.size(); ++i) {
    x = torch::relu(convs_[i]->forward(x));
    if (pool_after_[i]) x = torch::max_pool2d(x, 2);
  }
  return x;
}

void init_like_keras(torch::nn::Module& network) {
  torch::NoGradGuard no_grad;
  auto glorot = [](torch::Tensor& weight, torch::Tensor& bias) {
    torch::nn::init::xavier_uniform_(weight);  // fan_in/fan_out include the kernel area, as in Keras
    if (bias.defined()) bias.zero_();
  };
  for (const auto& m : network.modules(/*include_self=*/true)) {
    if (auto* conv = m->as<torch::nn::Conv2dImpl>()) glorot(conv->weight, conv->bias);
    if (auto* dense = m->as<torch::nn::LinearImpl>()) glorot(dense->weight, dense->bias);
  }
}

}  // namespace imagefit

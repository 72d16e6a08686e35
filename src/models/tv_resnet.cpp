#include "models/tv_resnet.h"

#include "core/error.h"

namespace imagefit {

namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// eps 1e-5 and momentum 0.1: LibTorch's defaults are torchvision's.
nn::BatchNorm2d bn(int64_t channels) { return nn::BatchNorm2d(nn::BatchNorm2dOptions(channels)); }

// 1×1 convolution + BN on the shortcut when the block changes resolution or width.
nn::Sequential downsample(int64_t in, int64_t out, int64_t stride) {
  if (stride == 1 && in == out) return nullptr;
  return nn::Sequential(conv(in, out, 1, stride), bn(out));
}

class BasicBlockImpl : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlockImpl(int64_t in, int64_t planes, int64_t stride)
      : conv1(register_module("conv1", conv(in, planes, 3, stride))),
        bn1(register_module("bn1", bn(planes))),
        conv2(register_module("conv2", conv(planes, planes, 3, 1))),
        bn2(register_module("bn2", bn(planes))),
        down(downsample(in, planes, stride)) {
    if (down) register_module("downsample", down);
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor out = torch::relu(bn1(conv1(x)));
    out = bn2(conv2(out));
    return torch::relu(out + (down ? down->forward(x) : x));
  }

 private:
  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
  nn::Sequential down;
};

class BottleneckImpl : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t in, int64_t planes, int64_t stride)
      : conv1(register_module("conv1", conv(in, planes, 1, 1))),
        bn1(register_module("bn1", bn(planes))),
        conv2(register_module("conv2", conv(planes, planes, 3, stride))),
        bn2(register_module("bn2", bn(planes))),
        conv3(register_module("conv3", conv(planes, planes * kExpansion, 1, 1))),
        bn3(register_module("bn3", bn(planes * kExpansion))),
        down(downsample(in, planes * kExpansion, stride)) {
    if (down) register_module("downsample", down);
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor out = torch::relu(bn1(conv1(x)));
    out = torch::relu(bn2(conv2(out)));
    out = bn3(conv3(out));
    return torch::relu(out + (down ? down->forward(x) : x));
  }

 private:
  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
  nn::Conv2d conv3;
  nn::BatchNorm2d bn3;
  nn::Sequential down;
};

template <typename Block>
nn::Sequential make_layer(int64_t& in, int64_t planes, int blocks, int64_t stride) {
  nn::Sequential layer;
  for (int i = 0; i < blocks; ++i) {
    layer->push_back(std::make_shared<Block>(in, planes, i == 0 ? stride : 1));
    in = planes * Block::kExpansion;
  }
  return layer;
}

}  // namespace

ResNetImpl::ResNetImpl(int depth) : depth_(depth) {
  std::vector<int> blocks;
  if (depth == 18) {
    blocks = {2, 2, 2, 2};
  } else if (depth == 34 || depth == 50) {
    blocks = {3, 4, 6, 3};
  } else {
    throw Error("ResNet depth " + std::to_string(depth) + " is not supported (18, 34 or 50)");
  }
  conv1_ = register_module("conv1", conv(3, 64, 7, 2));
  bn1_ = register_module("bn1", bn(64));
  int64_t in = 64;
  torch::nn::Sequential* layers[4] = {&layer1_, &layer2_, &layer3_, &layer4_};
  for (int i = 0; i < 4; ++i) {
    const int64_t planes = int64_t{64} << i;
    const int64_t stride = i == 0 ? 1 : 2;
    *layers[i] = depth == 50 ? make_layer<BottleneckImpl>(in, planes, blocks[i], stride)
                             : make_layer<BasicBlockImpl>(in, planes, blocks[i], stride);
    register_module("layer" + std::to_string(i + 1), *layers[i]);
  }
  channels_ = in;
  // torchvision's initialisation, for training from scratch.
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* c = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    }
  }
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  x = torch::relu(bn1_(conv1_(x)));
  x = torch::max_pool2d(x, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1);
  x = layer1_->forward(x);
  x = layer2_->forward(x);
  x = layer3_->forward(x);
  return layer4_->forward(x);
}

}  // namespace imagefit

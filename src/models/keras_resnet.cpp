#include "models/keras_resnet.h"

#include "core/error.h"

namespace imagefit {

namespace {

constexpr double kBatchNormMomentum = 0.99;  // Keras's default
constexpr double kEpsilon = 1.001e-5;        // keras.applications.resnet's BatchNormalization epsilon
const int64_t kFilters[4] = {64, 128, 256, 512};  // bottleneck widths of conv2..conv5 (outputs 4×)

// One layer of the plan, in Keras's creation order.
struct Layer {
  std::string stage, name;
  bool bn;
  int64_t kernel, in, out, stride;
};

std::vector<Layer> plan(const KerasResNetImpl::Settings& s) {
  std::vector<Layer> p;
  p.push_back({"conv1", "conv1_conv", false, 7, 3, 64, 2});
  p.push_back({"conv1", "conv1_bn", true, 0, 0, 64, 0});
  int64_t c = 64;
  for (size_t stage = 0; stage < s.blocks.size(); ++stage) {
    const int64_t f = kFilters[stage];
    for (int b = 1; b <= s.blocks[stage]; ++b) {
      const std::string block = "conv" + std::to_string(stage + 2) + "_block" + std::to_string(b);
      // stack_residual_blocks_v1: stride1 (1 for conv2, else 2) on the first block, which alone has
      // the projection shortcut (conv_shortcut=True).
      const int64_t stride = b == 1 && stage > 0 ? 2 : 1;
      auto add = [&](int i, int64_t kernel, int64_t in, int64_t out, int64_t st) {
        const std::string n = block + "_" + std::to_string(i);
        p.push_back({block, n + "_conv", false, kernel, in, out, st});
        p.push_back({block, n + "_bn", true, 0, 0, out, 0});
      };
      if (b == 1) add(0, 1, c, 4 * f, stride);
      add(1, 1, c, f, stride);
      add(2, 3, f, f, 1);
      add(3, 1, f, 4 * f, 1);
      c = 4 * f;
    }
  }
  return p;
}

}  // namespace

KerasResNetImpl::Settings KerasResNetImpl::settings(const std::string& arch) {
  if (arch == "keras-resnet50") return {arch, {3, 4, 6, 3}};
  if (arch == "keras-resnet101") return {arch, {3, 4, 23, 3}};
  if (arch == "keras-resnet152") return {arch, {3, 8, 36, 3}};
  throw Error("unknown Keras ResNet '" + arch + "'");
}

std::vector<keras::LayerSpec> KerasResNetImpl::keras_layers(const Settings& settings) {
  std::vector<keras::LayerSpec> out;
  for (const auto& l : plan(settings)) {
    keras::LayerSpec spec;
    spec.module = l.stage + "." + l.name;
    spec.name = l.name;
    spec.automatic = false;
    if (l.bn) {
      spec.kind = "batch_normalization";
      spec.shape = {l.out};
    } else {
      spec.kind = "conv2d";
      spec.shape = {l.kernel, l.kernel, l.in, l.out};
      spec.bias = true;
    }
    out.push_back(spec);
  }
  return out;
}

KerasResNetImpl::KerasResNetImpl(Settings settings) : settings_(std::move(settings)) {
  std::shared_ptr<torch::nn::Module> stage;
  Block* block = nullptr;
  for (const auto& l : plan(settings_)) {
    // Registration order = Keras's creation order, each BatchNorm right after its convolution.
    if (stage_names_.empty() || stage_names_.back() != l.stage) {
      stage_names_.push_back(l.stage);
      stage = register_module(l.stage, std::make_shared<torch::nn::Module>());
      if (l.stage != "conv1") block = &blocks_.emplace_back();
    }
    if (l.stage == "conv1") {
      if (l.bn)
        bn1_ = stage->register_module(l.name, keras::batch_norm(l.out, kBatchNormMomentum, kEpsilon));
      else  // conv1_pad's 3 zeros, then a "valid" 7×7/2
        conv1_ = stage->register_module(
            l.name, torch::nn::Conv2d(torch::nn::Conv2dOptions(l.in, l.out, l.kernel).stride(l.stride).padding(3)));
      continue;
    }
    const int i = l.name[l.name.size() - (l.bn ? 4 : 6)] - '0';  // convS_blockB_<i>_conv / _bn
    if (l.bn) {
      auto bn = stage->register_module(l.name, keras::batch_norm(l.out, kBatchNormMomentum, kEpsilon));
      (i == 0 ? block->bn0 : i == 1 ? block->bn1 : i == 2 ? block->bn2 : block->bn3) = bn;
    } else {
      // The 3×3 is "same" at stride 1 (symmetric 1); the 1×1s need no padding.
      auto conv = stage->register_module(
          l.name,
          torch::nn::Conv2d(torch::nn::Conv2dOptions(l.in, l.out, l.kernel).stride(l.stride).padding(l.kernel / 2)));
      (i == 0 ? block->conv0 : i == 1 ? block->conv1 : i == 2 ? block->conv2 : block->conv3) = conv;
    }
  }
}

torch::Tensor KerasResNetImpl::Block::forward(const torch::Tensor& x) {
  const auto shortcut = conv0 ? bn0->forward(conv0->forward(x)) : x;
  auto y = torch::relu(bn1->forward(conv1->forward(x)));
  y = torch::relu(bn2->forward(conv2->forward(y)));
  y = bn3->forward(conv3->forward(y));
  return torch::relu(shortcut + y);
}

torch::Tensor KerasResNetImpl::stem(torch::Tensor x) {
  if (x.size(2) < kMinSize || x.size(3) < kMinSize)
    throw Error(arch() + " needs an input of at least 32x32 pixels (got " + std::to_string(x.size(2)) + "x" +
                std::to_string(x.size(3)) + "), as Keras's ResNet");
  x = torch::relu(bn1_->forward(conv1_->forward(x)));
  // pool1_pad pads zeros, max pooling's padding -inf: the same here, after the ReLU (x >= 0).
  return torch::max_pool2d(x, 3, 2, 1);
}

torch::Tensor KerasResNetImpl::forward(torch::Tensor x) { return run_stages(std::move(x), 0, stage_names_.size()); }

torch::Tensor KerasResNetImpl::run_stages(torch::Tensor x, size_t first, size_t last) {
  for (size_t i = first; i < last; ++i) x = i == 0 ? stem(std::move(x)) : blocks_.at(i - 1).forward(x);
  return x;
}

std::vector<std::string> KerasResNetImpl::stages() const { return stage_names_; }

}  // namespace imagefit

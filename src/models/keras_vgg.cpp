#include "models/keras_vgg.h"

#include "core/error.h"

namespace imagefit {

namespace {
const int64_t kWidths[5] = {64, 128, 256, 512, 512};
}

KerasVggImpl::Settings KerasVggImpl::settings(const std::string& arch) {
  if (arch == "keras-vgg16") return {arch, {2, 2, 3, 3, 3}};
  if (arch == "keras-vgg19") return {arch, {2, 2, 4, 4, 4}};
  throw Error("unknown Keras VGG '" + arch + "'");
}

std::vector<keras::LayerSpec> KerasVggImpl::keras_layers(const Settings& settings) {
  std::vector<keras::LayerSpec> out;
  int64_t c = 3;
  for (size_t b = 0; b < settings.convs.size(); ++b) {
    const std::string block = "block" + std::to_string(b + 1);
    for (int i = 1; i <= settings.convs[b]; ++i) {
      keras::LayerSpec spec;
      spec.name = block + "_conv" + std::to_string(i);
      spec.module = block + "." + spec.name;
      spec.kind = "conv2d";
      spec.shape = {3, 3, c, kWidths[b]};
      spec.automatic = false;
      spec.bias = true;
      out.push_back(spec);
      c = kWidths[b];
    }
  }
  return out;
}

KerasVggImpl::KerasVggImpl(Settings settings) : settings_(std::move(settings)) {
  std::string block;
  std::shared_ptr<torch::nn::Module> stage;
  for (const auto& spec : keras_layers(settings_)) {
    const std::string b = spec.module.substr(0, spec.module.find('.'));
    if (b != block) {
      block = b;
      stage = register_module(block, std::make_shared<torch::nn::Module>());
      blocks_.emplace_back();
    }
    // 3×3 "same" at stride 1: one pixel of zeros each side.
    blocks_.back().push_back(stage->register_module(
        spec.name, torch::nn::Conv2d(torch::nn::Conv2dOptions(spec.shape[2], spec.shape[3], 3).padding(1))));
  }
}

torch::Tensor KerasVggImpl::forward(torch::Tensor x) { return run_stages(std::move(x), 0, blocks_.size()); }

torch::Tensor KerasVggImpl::run_stages(torch::Tensor x, size_t first, size_t last) {
  if (first == 0 && last > 0 && (x.size(2) < kMinSize || x.size(3) < kMinSize))
    throw Error(arch() + " needs an input of at least 32x32 pixels (got " + std::to_string(x.size(2)) + "x" +
                std::to_string(x.size(3)) + "), as Keras's VGG");
  for (size_t b = first; b < last; ++b) {
    for (auto& conv : blocks_.at(b)) x = torch::relu(conv->forward(x));
    x = torch::max_pool2d(x, 2, 2);  // block{b}_pool: 2×2/2 "valid"
  }
  return x;
}

std::vector<std::string> KerasVggImpl::stages() const {
  std::vector<std::string> s;
  for (size_t b = 0; b < blocks_.size(); ++b) s.push_back("block" + std::to_string(b + 1));
  return s;
}

}  // namespace imagefit

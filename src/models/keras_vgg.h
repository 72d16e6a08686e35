#pragma once
// keras.applications VGG16 (keras-vgg16) and VGG19 (keras-vgg19) without their top: the
// convolutional part, 512 features, 224×224 by default, at least 32×32. Five blocks of 3×3 "same"
// convolutions with bias and ReLU (`block{b}_conv{i}`), each block ending in a 2×2/2 max pool
// (`block{b}_pool`); VGG19 has four convolutions in blocks 3-5 where VGG16 has three. The modules
// are nested by block and named as Keras names the layers (`block1.block1_conv1`), so the .h5
// weights map by name; the full-top files' flatten/fc1/fc2/predictions are left out by the loader.
// Input: preprocess_input "caffe" (BGR, minus the ImageNet mean, no scaling).
#include <string>
#include <vector>

#include "models/backbone.h"
#include "models/keras_ops.h"

namespace imagefit {

class KerasVggImpl : public BackboneImpl {
 public:
  struct Settings {
    std::string arch;         // registry name: "keras-vgg16"
    std::vector<int> convs;   // convolutions of block1..block5
  };
  static Settings settings(const std::string& arch);  // "keras-vgg16" or "keras-vgg19"

  explicit KerasVggImpl(Settings settings);

  // block5_pool (N×512×h×w).
  torch::Tensor forward(torch::Tensor x) override;
  bool can_run_stages() const override { return true; }
  torch::Tensor run_stages(torch::Tensor x, size_t first, size_t last) override;

  int64_t feature_channels() const override { return 512; }
  std::vector<std::string> stages() const override;  // "block1", ..., "block5"
  InputSpec input_spec() const override { return {224, Normalization::Caffe}; }
  std::string arch() const override { return settings_.arch; }

  static std::vector<keras::LayerSpec> keras_layers(const Settings& settings);
  static constexpr int64_t kMinSize = 32;  // Keras's min_size

 private:
  Settings settings_;
  std::vector<std::vector<torch::nn::Conv2d>> blocks_;
};

}  // namespace imagefit

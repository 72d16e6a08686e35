#pragma once
// keras.applications.resnet ResNet50 (keras-resnet50) without its top: 2048 features, 224×224 by
// default, at least 32×32. Keras's v1 ResNet (keras/applications/resnet.py `residual_block_v1`): the
// stem conv1_pad (zeros, 3) → conv1_conv 7×7/2 with bias → conv1_bn → ReLU → pool1_pad (1) → 3×3/2
// max pool, then stages conv2..conv5 of bottleneck blocks `convS_blockB` whose layers are
// `convS_blockB_{0,1,2,3}_{conv,bn}` (0: the 1×1 projection shortcut of a stage's first block); the
// stride is on the first 1×1 convolution (and the shortcut), every convolution has a bias, every
// BatchNormalization epsilon 1.001e-5. The modules are nested by block and named as Keras names the
// layers, so the .h5 weights map by name: `conv1.conv1_conv`, `conv2_block1.conv2_block1_0_conv`, ...
// Input: preprocess_input "caffe" (BGR, minus the ImageNet mean, no scaling). ResNet101/152 are the
// same module with other block counts (settings()).
#include <string>
#include <vector>

#include "models/backbone.h"
#include "models/keras_ops.h"

namespace imagefit {

class KerasResNetImpl : public BackboneImpl {
 public:
  struct Settings {
    std::string arch;             // registry name: "keras-resnet50"
    std::vector<int> blocks;      // blocks of conv2..conv5: {3, 4, 6, 3} for ResNet50
  };
  // keras.applications' ResNet50 / ResNet101 / ResNet152 stack_fn tables.
  static Settings settings(const std::string& arch);

  explicit KerasResNetImpl(Settings settings);

  // Keras's last block output (N×2048×h×w), before pooling.
  torch::Tensor forward(torch::Tensor x) override;
  bool can_run_stages() const override { return true; }
  torch::Tensor run_stages(torch::Tensor x, size_t first, size_t last) override;

  int64_t feature_channels() const override { return 2048; }
  // "conv1" (the stem), then each block: "conv2_block1", ..., "conv5_block3" (17 for ResNet50).
  std::vector<std::string> stages() const override;
  InputSpec input_spec() const override { return {224, Normalization::Caffe}; }
  std::string arch() const override { return settings_.arch; }

  // Every weighted layer in Keras's creation order, with its module and shapes (the loader's table).
  static std::vector<keras::LayerSpec> keras_layers(const Settings& settings);
  static constexpr int64_t kMinSize = 32;  // Keras's min_size

 private:
  struct Block {
    torch::nn::Conv2d conv0{nullptr}, conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
    torch::nn::BatchNorm2d bn0{nullptr}, bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
    torch::Tensor forward(const torch::Tensor& x);
  };
  torch::Tensor stem(torch::Tensor x);

  Settings settings_;
  std::vector<std::string> stage_names_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::vector<Block> blocks_;  // stage i + 1 is blocks_[i]
};

}  // namespace imagefit

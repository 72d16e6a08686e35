#pragma once
// keras.applications.InceptionV3 without its top (2048 features, 299×299 by default, at least
// 75×75). Keras builds it from `conv2d_bn` units (Conv2D without bias, BatchNormalization with
// scale=False and epsilon 1e-3, ReLU) whose layers Keras names automatically; the module of the
// N-th unit (in the order keras.applications creates them) is `conv2d_N` / `batch_normalization_N`,
// the names of the 2016–2018 weights files, nested in its stage: `stem.conv2d_1`,
// `mixed0.conv2d_6`, ..., `mixed10.batch_normalization_94`. The stages are the stem (five units, two
// max-pools) and Keras's eleven `mixedN` blocks. Padding is Keras's: "valid" for the stem and every
// stride-2 convolution and pooling, symmetric "same" for the stride-1 convolutions, and the 3×3
// average pools count only the pixels inside the image (TensorFlow's "same" pooling). Input
// x/127.5 - 1 (preprocess_input "tf" mode).
#include <string>
#include <vector>

#include "models/backbone.h"
#include "models/keras_ops.h"

namespace imagefit {

class KerasInceptionV3Impl : public BackboneImpl {
 public:
  KerasInceptionV3Impl();

  // Returns Keras's `mixed10` (N×2048×h×w), before pooling.
  torch::Tensor forward(torch::Tensor x) override;
  bool can_run_stages() const override { return true; }
  torch::Tensor run_stages(torch::Tensor x, size_t first, size_t last) override;

  int64_t feature_channels() const override { return 2048; }
  // "stem", "mixed0", ..., "mixed10".
  std::vector<std::string> stages() const override;
  InputSpec input_spec() const override { return {299, Normalization::Symmetric}; }
  std::string arch() const override { return "keras-inception-v3"; }

  // Every weighted layer in Keras's creation order (conv2d_1, batch_normalization_1, conv2d_2, ...)
  // with its module and shapes: what the weights loader matches a file against.
  static std::vector<keras::LayerSpec> keras_layers();
  static constexpr int64_t kMinSize = 75;  // Keras's min_size

 private:
  struct Unit {
    torch::nn::Conv2d conv{nullptr};
    torch::nn::BatchNorm2d bn{nullptr};
    torch::Tensor operator()(const torch::Tensor& x);
  };
  torch::Tensor run_stage(torch::Tensor x, size_t stage);

  std::vector<std::vector<Unit>> units_;  // by stage
  std::vector<int> kinds_;                // the block kind of each stage
};

}  // namespace imagefit

#pragma once
// A feature extractor: the convolutional part of a classifier, without its top.
// Architectures mirror their original's module structure and names (torchvision's
// `features.3.conv.1`, Keras's `block_3_expand`) so that weights map by name.
#include <torch/torch.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/input.h"

namespace imagefit {

class BackboneImpl : public torch::nn::Module {
 public:
  // x: N×3×H×W, already normalized as input_spec() says. Returns the last feature map N×C×h×w.
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // C of the returned feature map.
  virtual int64_t feature_channels() const = 0;
  // The network's stages from input to output, as parameter-name prefixes ("layer1",
  // "features.3", "block_3_"): `--unfreeze N` makes the last N trainable (a parameter is trainable
  // when its name starts with one of them). A parameter belongs to the LAST stage whose prefix
  // its name starts with: plain starts-with may also take later modules ("features.1" matches
  // features.10, "conv_dw_1" conv_dw_13), which is harmless for "the last N" since those are open too.
  virtual std::vector<std::string> stages() const = 0;
  // Runs stages [first, last) of stages() (stage 0 takes the normalized image), so that
  // forward(x) == run_stages(run_stages(x, 0, k), k, stages().size()) for every k. Fine-tuning the
  // last stages then runs the frozen first ones once per image and keeps their output
  // (train/activation_cache.h). Architectures that cannot split return false here.
  virtual bool can_run_stages() const { return false; }
  virtual torch::Tensor run_stages(torch::Tensor x, size_t first, size_t last) {
    throw std::logic_error(arch() + " cannot run part of its stages");
  }
  virtual InputSpec input_spec() const = 0;
  // Registry name with options, e.g. "keras-mobilenet-v2" / "resnet18".
  virtual std::string arch() const = 0;
};

using Backbone = std::shared_ptr<BackboneImpl>;

}  // namespace imagefit

#pragma once
// Loading an ImageNet-pretrained backbone from a weights file the user already has.
#include <string>

#include "models/backbone.h"
#include "models/registry.h"

namespace imagefit {

struct Pretrained {
  Backbone backbone;        // built and filled with the file's weights
  std::string arch;         // registry name, e.g. "keras-mobilenet-v2"
  BackboneOptions options;  // e.g. alpha recognised from the file's shapes
  std::string description;  // one line to print: "Keras MobileNetV2 alpha=0.35 (410,208 parameters)"
};

// Recognises the format (Keras .h5 by its HDF5 signature, torchvision .pth zip or legacy pickle),
// the architecture and width multiplier from layer names and shapes, builds the backbone and loads
// it strictly. If `arch_hint` is not empty it must agree with what the file holds (else Error).
Pretrained load_pretrained(const std::string& path, const std::string& arch_hint = "");

}  // namespace imagefit

#pragma once
// Every architecture imagefit knows, by name: the single table the CLI, the model file and the
// weight loaders consult.
#include <functional>
#include <string>
#include <vector>

#include "models/backbone.h"

namespace imagefit {

struct BackboneOptions {
  double alpha = 1.0;   // width multiplier (Keras MobileNet V1/V2, torchvision MobileNetV2)
  int image_size = 0;   // input size, for architectures whose shape depends on it (simple-cnn)
};

struct ArchInfo {
  std::string name;         // "keras-mobilenet-v2", "resnet18", "simple-cnn", ...
  std::string layout;       // "keras", "torchvision" or "imagefit"
  std::string description;  // one line for `imagefit train --help` / `imagefit weights list`
  std::function<Backbone(const BackboneOptions&)> make;
};

const std::vector<ArchInfo>& architectures();
const ArchInfo& find_architecture(const std::string& name);  // throws Error listing known names
Backbone make_backbone(const std::string& name, const BackboneOptions& options = {});

}  // namespace imagefit

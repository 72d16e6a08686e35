#pragma once
// Which torchvision architecture a state_dict holds, from its parameter names and shapes alone
// (torchvision 0.14's module names: `layer1.0.conv1`, `features.3.conv.1`, `features.1.0.block`).
#include <string>
#include <vector>

#include "models/registry.h"
#include "weights/state_dict.h"

namespace imagefit {

struct TorchvisionArch {
  std::string name;         // registry name = torchvision's function name: "resnet18", "mobilenet_v2", ...
  BackboneOptions options;  // width multiplier recognised for mobilenet_v2 (1.0 otherwise)
};

// The architectures imagefit loads from .pth files, in torchvision's spelling.
const std::vector<std::string>& torchvision_arch_names();

// Recognises the architecture, with or without its classification top. Throws Error naming `source`
// when the names are no torchvision model imagefit supports (saying which model they look like, when
// it can tell, e.g. "resnet101" or "vgg16_bn").
TorchvisionArch detect_torchvision_arch(const StateDict& weights, const std::string& source);

// Without the classification top (fc.*, classifier.*): a backbone has none.
StateDict without_classifier(const StateDict& weights);

// Without a leading name every entry shares that is no torchvision module ("module." from
// DataParallel, "model." from training wrappers); unchanged otherwise.
StateDict strip_wrapper_prefix(const StateDict& weights);

}  // namespace imagefit

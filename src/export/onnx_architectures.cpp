// The table of backbones `--format onnx` covers (registry name → exporter).
#include "export/onnx_architectures.h"

namespace imagefit::onnx_export {

namespace {
const std::vector<std::pair<std::string, BackboneExporter>>& table() {
  static const std::vector<std::pair<std::string, BackboneExporter>> t = {
      {"simple-cnn", export_simple_cnn},
      {"keras-mobilenet-v1", export_keras_mobilenet_v1},
      {"keras-mobilenet-v2", export_keras_mobilenet_v2},
      {"resnet18", export_resnet},
      {"resnet34", export_resnet},
      {"resnet50", export_resnet},
      {"mobilenet_v2", export_torchvision_mobilenet_v2},
      {"mobilenet_v3_small", export_torchvision_mobilenet_v3},
      {"mobilenet_v3_large", export_torchvision_mobilenet_v3},
      {"efficientnet_b0", export_torchvision_efficientnet},
      {"squeezenet1_1", export_torchvision_squeezenet},
      {"vgg16", export_torchvision_vgg},
  };
  return t;
}
}  // namespace

BackboneExporter find_backbone_exporter(const std::string& arch) {
  for (const auto& [name, exporter] : table())
    if (name == arch) return exporter;
  return nullptr;
}

std::vector<std::string> covered_architectures() {
  std::vector<std::string> names;
  for (const auto& entry : table()) names.push_back(entry.first);
  return names;
}

}  // namespace imagefit::onnx_export

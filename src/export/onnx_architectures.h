#pragma once
// The backbones `--format onnx` covers: for each registry name, a function that mirrors the
// backbone's forward() on a ModuleConverter, from the (normalized) input to the last feature map.
// One file a family: onnx_simple_cnn.cpp, onnx_keras_mobilenet.cpp, onnx_torchvision.cpp.
#include <string>
#include <vector>

#include "export/onnx_module_converters.h"

namespace imagefit::onnx_export {

// `prefix` is the backbone's module path in the classifier ("backbone").
using BackboneExporter = OnnxValue (*)(ModuleConverter& c, const OnnxValue& x, const std::string& prefix);

OnnxValue export_simple_cnn(ModuleConverter& c, const OnnxValue& x, const std::string& prefix);
OnnxValue export_keras_mobilenet_v1(ModuleConverter& c, const OnnxValue& x, const std::string& prefix);
OnnxValue export_keras_mobilenet_v2(ModuleConverter& c, const OnnxValue& x, const std::string& prefix);
OnnxValue export_resnet(ModuleConverter& c, const OnnxValue& x, const std::string& prefix);
OnnxValue export_torchvision_mobilenet_v2(ModuleConverter& c, const OnnxValue& x, const std::string& prefix);
OnnxValue export_torchvision_mobilenet_v3(ModuleConverter& c, const OnnxValue& x, const std::string& prefix);
OnnxValue export_torchvision_efficientnet(ModuleConverter& c, const OnnxValue& x, const std::string& prefix);
OnnxValue export_torchvision_squeezenet(ModuleConverter& c, const OnnxValue& x, const std::string& prefix);
OnnxValue export_torchvision_vgg(ModuleConverter& c, const OnnxValue& x, const std::string& prefix);

// nullptr when the architecture is not covered.
BackboneExporter find_backbone_exporter(const std::string& arch);
std::vector<std::string> covered_architectures();

}  // namespace imagefit::onnx_export

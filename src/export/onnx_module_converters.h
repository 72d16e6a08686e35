#pragma once
// Converters from LibTorch modules to ONNX nodes, one a module kind. A network is addressed by
// module path ("backbone.layer1.0.conv1"); each converter reads the module's own options (stride,
// padding, epsilon, ceil_mode) and tensors, so an exporter never repeats a number the model holds.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "export/onnx_graph_builder.h"
#include "models/tv_layers.h"

namespace imagefit::onnx_export {

using Activation = tv::Activation;

class ModuleConverter {
 public:
  // `root` is the whole classifier; it must outlive the converter.
  ModuleConverter(OnnxGraphBuilder& builder, torch::nn::Module& root);

  OnnxGraphBuilder& builder() { return builder_; }
  bool has(const std::string& path) const { return modules_.count(path) != 0; }
  std::shared_ptr<torch::nn::Module> module(const std::string& path) const;  // Error if there is none
  // Paths of the direct children of `path`, in registration order.
  std::vector<std::string> children(const std::string& path) const;
  // The Conv2d at `path` (Error naming the path if it is something else).
  torch::nn::Conv2dImpl& conv_module(const std::string& path) const;

  OnnxValue conv2d(const OnnxValue& x, const std::string& path, const Pads& extra_padding = {});
  OnnxValue batch_norm(const OnnxValue& x, const std::string& path);
  OnnxValue linear(const OnnxValue& x, const std::string& path);
  OnnxValue max_pool(const OnnxValue& x, const std::string& path);
  OnnxValue activation(const OnnxValue& x, Activation activation, const std::string& name);
  // torchvision.ops.SqueezeExcitation at `path` (children fc1, fc2): x * scale(fc2(act(fc1(avgpool(x))))).
  OnnxValue squeeze_excitation(const OnnxValue& x, const std::string& path, Activation activation,
                               Activation scale_activation);

  // An architecture's own block kinds (ResNet's BasicBlock, SqueezeNet's Fire, ...): called by
  // forward() for a module it does not know by type.
  using BlockConverter = std::function<OnnxValue(ModuleConverter&, const OnnxValue&, const std::string& path)>;
  void set_block_converter(BlockConverter block) { block_ = std::move(block); }

  // The module at `path` applied to x, by kind: Conv2d, BatchNorm2d, Linear, ReLU / ReLU6 / Hardtanh /
  // SiLU / Sigmoid, tv::ActivationLayer, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1), Flatten,
  // Dropout / Identity (omitted: inference), Sequential (children in order), tv::SqueezeExcitation;
  // anything else goes to the block converter, or is an Error naming the module.
  OnnxValue forward(const OnnxValue& x, const std::string& path);

 private:
  OnnxGraphBuilder& builder_;
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules_;
  std::map<std::string, std::vector<std::string>> children_;
  BlockConverter block_;
};

}  // namespace imagefit::onnx_export

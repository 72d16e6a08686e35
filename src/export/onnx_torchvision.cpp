// ONNX export of the torchvision-layout backbones (models/tv_*.cpp). Their `features` Sequentials
// convert module by module; the block kinds that torchvision defines in Python (ResNet's blocks,
// InvertedResidual / MBConv, SqueezeNet's Fire) are mirrored here by their children's names.
#include "core/error.h"
#include "export/onnx_architectures.h"

namespace imagefit::onnx_export {

namespace {

bool has_child(ModuleConverter& c, const std::string& path, const std::string& name) {
  return c.has(path + "." + name);
}

// True when no convolution under `path` has a stride other than 1.
bool all_stride_one(ModuleConverter& c, const std::string& path) {
  if (auto* conv = c.module(path)->as<torch::nn::Conv2dImpl>())
    return (*conv->options.stride())[0] == 1 && (*conv->options.stride())[1] == 1;
  for (const auto& child : c.children(path))
    if (!all_stride_one(c, child)) return false;
  return true;
}

// torchvision's InvertedResidual (MobileNetV2: child `conv`; V3: `block`) and MBConv (`block`):
// the branch, plus the input when stride == 1 and in == out (use_res_connect). EfficientNet's
// stochastic depth is the identity at inference.
OnnxValue residual_branch_block(ModuleConverter& c, const OnnxValue& x, const std::string& path,
                                const std::string& branch) {
  const OnnxValue y = c.forward(x, path + "." + branch);
  if (all_stride_one(c, path) && y.channels() == x.channels()) return c.builder().add(y, x, path + ".add");
  return y;
}

// Mobile blocks and SqueezeNet's Fire, recognised by their children.
OnnxValue torchvision_block(ModuleConverter& c, const OnnxValue& x, const std::string& path) {
  if (has_child(c, path, "conv") && c.children(path).size() == 1) return residual_branch_block(c, x, path, "conv");
  if (has_child(c, path, "block") && c.children(path).size() == 1) return residual_branch_block(c, x, path, "block");
  if (has_child(c, path, "squeeze") && has_child(c, path, "expand1x1") && has_child(c, path, "expand3x3")) {
    auto& b = c.builder();
    const OnnxValue s = b.relu(c.conv2d(x, path + ".squeeze"), path + ".squeeze_activation");
    const OnnxValue e1 = b.relu(c.conv2d(s, path + ".expand1x1"), path + ".expand1x1_activation");
    const OnnxValue e3 = b.relu(c.conv2d(s, path + ".expand3x3"), path + ".expand3x3_activation");
    return b.concat({e1, e3}, path, 1);
  }
  throw Error("ONNX export: no converter for module '" + path + "' (" + c.module(path)->name() + ")");
}

// torchvision.models.resnet BasicBlock / Bottleneck.
OnnxValue resnet_block(ModuleConverter& c, const OnnxValue& x, const std::string& path) {
  auto& b = c.builder();
  if (!has_child(c, path, "conv1") || !has_child(c, path, "conv2"))
    throw Error("ONNX export: no converter for module '" + path + "' (" + c.module(path)->name() + ")");
  OnnxValue out = b.relu(c.batch_norm(c.conv2d(x, path + ".conv1"), path + ".bn1"), path + ".relu1");
  out = c.batch_norm(c.conv2d(out, path + ".conv2"), path + ".bn2");
  if (has_child(c, path, "conv3")) {
    out = b.relu(out, path + ".relu2");
    out = c.batch_norm(c.conv2d(out, path + ".conv3"), path + ".bn3");
  }
  const OnnxValue identity = has_child(c, path, "downsample") ? c.forward(x, path + ".downsample") : x;
  return b.relu(b.add(out, identity, path + ".add"), path + ".relu");
}

OnnxValue features(ModuleConverter& c, const OnnxValue& x, const std::string& prefix) {
  c.set_block_converter(torchvision_block);
  return c.forward(x, prefix + ".features");
}

}  // namespace

OnnxValue export_resnet(ModuleConverter& c, const OnnxValue& input, const std::string& prefix) {
  const std::string p = prefix + ".";
  c.set_block_converter(resnet_block);
  OnnxValue x = c.builder().relu(c.batch_norm(c.conv2d(input, p + "conv1"), p + "bn1"), p + "relu");
  PoolParams pool;  // ResNetImpl::forward: max_pool2d(3, stride 2, padding 1)
  pool.kernel_h = pool.kernel_w = 3;
  pool.stride_h = pool.stride_w = 2;
  pool.pads = {1, 1, 1, 1};
  x = c.builder().max_pool(x, p + "maxpool", pool);
  for (int i = 1; i <= 4; ++i) x = c.forward(x, p + "layer" + std::to_string(i));
  return x;
}

OnnxValue export_torchvision_mobilenet_v2(ModuleConverter& c, const OnnxValue& x, const std::string& prefix) {
  return features(c, x, prefix);
}

OnnxValue export_torchvision_mobilenet_v3(ModuleConverter& c, const OnnxValue& x, const std::string& prefix) {
  return features(c, x, prefix);
}

OnnxValue export_torchvision_efficientnet(ModuleConverter& c, const OnnxValue& x, const std::string& prefix) {
  return features(c, x, prefix);
}

OnnxValue export_torchvision_squeezenet(ModuleConverter& c, const OnnxValue& x, const std::string& prefix) {
  return features(c, x, prefix);
}

OnnxValue export_torchvision_vgg(ModuleConverter& c, const OnnxValue& x, const std::string& prefix) {
  return features(c, x, prefix);
}

}  // namespace imagefit::onnx_export

#include "weights/torchvision_arch.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"

namespace imagefit {

const std::vector<std::string>& torchvision_arch_names() {
  static const std::vector<std::string> names = {"resnet18",           "resnet34",          "resnet50",
                                                 "mobilenet_v2",       "mobilenet_v3_small", "mobilenet_v3_large",
                                                 "squeezenet1_1",      "vgg16",             "efficientnet_b0"};
  return names;
}

namespace {

using Shape = std::vector<int64_t>;

std::string supported_list() {
  std::string s;
  for (const auto& n : torchvision_arch_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

std::string list_str(const std::vector<int>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Names and shapes of a state_dict, with the queries detection needs.
class Names {
 public:
  explicit Names(const StateDict& weights) {
    for (const auto& [name, t] : weights) shapes_[name] = Shape(t.sizes().begin(), t.sizes().end());
  }
  bool has(const std::string& name) const { return shapes_.count(name) > 0; }
  Shape shape(const std::string& name) const {
    auto it = shapes_.find(name);
    return it == shapes_.end() ? Shape{} : it->second;
  }
  // out-channels of a weight (first dimension), -1 if absent
  int64_t out(const std::string& name) const {
    auto s = shape(name);
    return s.empty() ? -1 : s[0];
  }
  bool any_starts_with(const std::string& prefix) const {
    auto it = shapes_.lower_bound(prefix);
    return it != shapes_.end() && starts_with(it->first, prefix);
  }
  // The integers i for which some name starts with "<prefix>.<i>.".
  std::set<int> indices(const std::string& prefix) const {
    std::set<int> out;
    const std::string p = prefix + ".";
    for (auto it = shapes_.lower_bound(p); it != shapes_.end() && starts_with(it->first, p); ++it) {
      const std::string rest = it->first.substr(p.size());
      size_t n = 0;
      while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n]))) ++n;
      if (n > 0 && n < rest.size() && rest[n] == '.') out.insert(std::stoi(rest.substr(0, n)));
    }
    return out;
  }
  int count(const std::string& prefix) const { return static_cast<int>(indices(prefix).size()); }
  std::vector<std::string> first(size_t n) const {  // for messages
    std::vector<std::string> out;
    for (const auto& [k, v] : shapes_) {
      if (out.size() == n) break;
      out.push_back(k);
    }
    return out;
  }
  size_t size() const { return shapes_.size(); }

 private:
  std::map<std::string, Shape> shapes_;
};

[[noreturn]] void unsupported(const std::string& source, const std::string& what) {
  throw Error(source + ": holds " + what + ", which imagefit does not support (torchvision architectures it loads: " +
              supported_list() + ")");
}

TorchvisionArch arch(const std::string& name, double alpha = 1.0) {
  TorchvisionArch a;
  a.name = name;
  a.options.alpha = alpha;
  return a;
}

TorchvisionArch detect_resnet(const Names& n, const std::string& source) {
  const bool bottleneck = n.has("layer1.0.conv3.weight");
  std::vector<int> depth;
  for (int i = 1; i <= 4; ++i) depth.push_back(n.count("layer" + std::to_string(i)));
  const std::string blocks = list_str(depth);
  if (!bottleneck) {
    if (depth == std::vector<int>{2, 2, 2, 2}) return arch("resnet18");
    if (depth == std::vector<int>{3, 4, 6, 3}) return arch("resnet34");
    unsupported(source, "a ResNet with basic blocks " + blocks);
  }
  const int64_t width = n.out("layer1.0.conv1.weight");
  const Shape conv2 = n.shape("layer1.0.conv2.weight");
  const bool grouped = conv2.size() == 4 && conv2[1] != conv2[0];
  if (depth == std::vector<int>{3, 4, 6, 3}) {
    if (grouped) unsupported(source, "a ResNeXt-50 (grouped convolutions, e.g. resnext50_32x4d)");
    if (width != 64) unsupported(source, "a wide ResNet-50 (wide_resnet50_2)");
    return arch("resnet50");
  }
  if (depth == std::vector<int>{3, 4, 23, 3}) unsupported(source, grouped ? "a ResNeXt-101" : "resnet101");
  if (depth == std::vector<int>{3, 8, 36, 3}) unsupported(source, "resnet152");
  unsupported(source, "a ResNet with bottleneck blocks " + blocks);
}

// torchvision's _make_divisible(v, 8): channel counts of width-multiplied MobileNets.
int64_t make_divisible(double v, int divisor = 8) {
  int64_t new_v = std::max<int64_t>(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (new_v < 0.9 * v) new_v += divisor;
  return new_v;
}

TorchvisionArch detect_mobilenet_v2(const Names& n, const std::string& source) {
  if (n.count("features") != 19) unsupported(source, "a MobileNetV2 with " + std::to_string(n.count("features")) + " feature blocks (torchvision's has 19)");
  // Output channels of blocks features.1 .. features.17 at width 1.0.
  const int block_c[17] = {16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320};
  std::vector<int64_t> seen;
  seen.push_back(n.out("features.0.0.weight"));
  for (int i = 1; i <= 17; ++i)
    seen.push_back(n.out("features." + std::to_string(i) + (i == 1 ? ".conv.1.weight" : ".conv.2.weight")));
  seen.push_back(n.out("features.18.0.weight"));
  for (double alpha : {1.0, 0.75, 0.5, 0.35, 0.25, 1.3, 1.4, 0.1}) {
    std::vector<int64_t> expect;
    expect.push_back(make_divisible(32 * alpha));
    for (int c : block_c) expect.push_back(make_divisible(c * alpha));
    expect.push_back(make_divisible(1280 * std::max(1.0, alpha)));
    if (expect == seen) return arch("mobilenet_v2", alpha);
  }
  unsupported(source, "a MobileNetV2 of a width imagefit does not recognise (stem " +
                          std::to_string(seen.front()) + " channels, last " + std::to_string(seen.back()) + ")");
}

TorchvisionArch detect_mobilenet_v3(const Names& n, const std::string& source) {
  const int blocks = n.count("features");
  const int64_t stem = n.out("features.0.0.weight");
  if (blocks == 13 && stem == 16 && n.shape("features.12.0.weight") == Shape{576, 96, 1, 1}) return arch("mobilenet_v3_small");
  if (blocks == 17 && stem == 16 && n.shape("features.16.0.weight") == Shape{960, 160, 1, 1}) return arch("mobilenet_v3_large");
  unsupported(source, "a MobileNetV3 of another size or width (" + std::to_string(blocks) + " feature blocks, stem " +
                          std::to_string(stem) + " channels)");
}

TorchvisionArch detect_efficientnet(const Names& n, const std::string& source) {
  std::vector<int> depth;
  for (int i = 1; i <= 7; ++i) depth.push_back(n.count("features." + std::to_string(i)));
  if (n.count("features") == 9 && depth == std::vector<int>{1, 2, 2, 3, 3, 4, 1} &&
      n.shape("features.0.0.weight") == Shape{32, 3, 3, 3} && n.shape("features.8.0.weight") == Shape{1280, 320, 1, 1})
    return arch("efficientnet_b0");
  unsupported(source, "an EfficientNet other than b0 (stage depths " + list_str(depth) + ", stem " +
                          shape_str(n.shape("features.0.0.weight")) + ")");
}

TorchvisionArch detect_squeezenet(const Names& n, const std::string& source) {
  std::set<int> fires;
  for (int i : n.indices("features"))
    if (n.has("features." + std::to_string(i) + ".squeeze.weight")) fires.insert(i);
  if (n.shape("features.0.weight") == Shape{64, 3, 3, 3} && fires == std::set<int>{3, 4, 6, 7, 9, 10, 11, 12})
    return arch("squeezenet1_1");
  if (n.shape("features.0.weight") == Shape{96, 3, 7, 7}) unsupported(source, "squeezenet1_0");
  unsupported(source, "a SqueezeNet of another layout");
}

TorchvisionArch detect_plain_features(const Names& n, const std::string& source) {
  std::vector<int> convs;
  bool batch_norm = false;
  for (int i : n.indices("features")) {
    const std::string p = "features." + std::to_string(i);
    if (n.shape(p + ".weight").size() == 4) convs.push_back(i);
    if (n.has(p + ".running_mean")) batch_norm = true;
  }
  const Shape stem = n.shape("features.0.weight");
  if (stem == Shape{64, 3, 11, 11}) unsupported(source, "alexnet");
  if (!convs.empty() && stem.size() == 4 && stem[2] == 3) {  // VGG: 3×3 convolutions only
    std::map<size_t, std::string> vgg = {{8, "vgg11"}, {10, "vgg13"}, {13, "vgg16"}, {16, "vgg19"}};
    const std::string name = vgg.count(convs.size()) ? vgg[convs.size()] : "a VGG with " + std::to_string(convs.size()) + " convolutions";
    if (batch_norm) unsupported(source, vgg.count(convs.size()) ? name + "_bn" : name + " and batch normalization");
    if (name == "vgg16" && convs == std::vector<int>{0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28} && stem == Shape{64, 3, 3, 3})
      return arch("vgg16");
    unsupported(source, name);
  }
  throw Error(source + ": not a torchvision architecture imagefit recognises (names under 'features.' of no known layout)");
}

}  // namespace

TorchvisionArch detect_torchvision_arch(const StateDict& weights, const std::string& source) {
  if (weights.empty()) throw Error(source + ": holds no tensors");
  const Names n(weights);
  if (n.has("conv1.weight") && n.has("layer1.0.conv1.weight")) return detect_resnet(n, source);
  if (n.has("features.1.conv.0.0.weight")) return detect_mobilenet_v2(n, source);
  if (n.has("features.1.block.0.0.weight")) return detect_mobilenet_v3(n, source);
  if (n.has("features.1.0.block.0.0.weight")) return detect_efficientnet(n, source);
  if (n.has("features.3.squeeze.weight") || n.has("features.3.expand1x1.weight")) return detect_squeezenet(n, source);
  // Other torchvision models, named so the message says what the file is.
  const std::vector<std::pair<std::string, std::string>> others = {
      {"features.conv0.", "a DenseNet"},       {"Conv2d_1a_3x3.", "inception_v3"},
      {"conv1.conv.", "googlenet"},            {"stage2.", "a ShuffleNetV2"},
      {"trunk_output.", "a RegNet"},           {"encoder.layers.", "a Vision Transformer"},
      {"layers.0.", "an MNASNet"},             {"features.1.0.norm1.", "a Swin Transformer"},
      {"features.1.0.layer_scale", "a ConvNeXt"}, {"features.1.0.block.0.", "a ConvNeXt"}};
  for (const auto& [prefix, what] : others)
    if (n.any_starts_with(prefix)) unsupported(source, what);
  if (n.has("features.0.weight")) return detect_plain_features(n, source);
  std::string names;
  for (const auto& s : n.first(5)) names += (names.empty() ? "" : ", ") + s;
  throw Error(source + ": not a torchvision model imagefit recognises (" + std::to_string(n.size()) +
              " tensors, the first named " + names + "; torchvision architectures it loads: " + supported_list() + ")");
}

StateDict without_classifier(const StateDict& weights) {
  StateDict out;
  for (const auto& [name, t] : weights)
    if (!starts_with(name, "fc.") && !starts_with(name, "classifier.")) out.emplace_back(name, t);
  return out;
}

StateDict strip_wrapper_prefix(const StateDict& weights) {
  static const std::set<std::string> roots = {"conv1", "bn1", "layer1", "layer2", "layer3", "layer4",
                                              "fc",    "features", "classifier"};
  StateDict out = weights;
  for (;;) {
    if (out.empty()) return out;
    const std::string& first = out.front().first;
    const size_t dot = first.find('.');
    if (dot == std::string::npos) return out;
    const std::string prefix = first.substr(0, dot + 1);
    if (roots.count(first.substr(0, dot))) return out;
    for (const auto& [name, t] : out)
      if (!starts_with(name, prefix) || name.size() == prefix.size()) return out;
    for (auto& entry : out) entry.first = entry.first.substr(prefix.size());
  }
}

}  // namespace imagefit

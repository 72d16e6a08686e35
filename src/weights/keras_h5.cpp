#include "weights/keras_h5.h"

#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "models/keras_mobilenet_v1.h"
#include "models/keras_mobilenet_v2.h"
#include "weights/hdf5_file.h"

namespace imagefit {

namespace {

using Widths = std::vector<std::pair<std::string, int64_t>>;

// A Keras backbone this loader knows: how its layers are named and how wide they are for an alpha.
struct KerasArch {
  std::string name;    // registry name
  std::string title;   // for messages: "Keras MobileNetV2"
  std::string stem;    // a layer every file of this architecture has
  std::string second;  // and another one, so that one stray layer name is not enough
  std::regex layer;    // the architecture's layer names
  std::function<Widths(double)> widths;
  std::vector<double> published_alphas;  // tried first, so a file reads as the alpha it was published with
};

const std::vector<KerasArch>& keras_archs() {
  static const std::vector<KerasArch> archs = {
      {"keras-mobilenet-v2",
       "Keras MobileNetV2",
       "Conv1",
       "expanded_conv_depthwise",
       std::regex("Conv1|bn_Conv1|Conv_1|Conv_1_bn|expanded_conv_(depthwise|project)(_BN)?|"
                  "block_[0-9]+_(expand|depthwise|project)(_BN)?"),
       KerasMobileNetV2Impl::conv_widths,
       {0.35, 0.5, 0.75, 1.0, 1.3, 1.4}},
      {"keras-mobilenet-v1",
       "Keras MobileNet V1",
       "conv1",
       "conv_dw_1",
       std::regex("conv1|conv1_bn|conv_(dw|pw)_[0-9]+(_bn)?"),
       KerasMobileNetV1Impl::conv_widths,
       {0.25, 0.5, 0.75, 1.0}},
  };
  return archs;
}

struct Hint {
  std::string arch;
  std::optional<double> alpha;
};

// "", "keras-mobilenet-v2" or "keras-mobilenet-v2:alpha=0.35".
Hint parse_hint(const std::string& hint, const std::string& path) {
  Hint h;
  const size_t colon = hint.find(':');
  h.arch = hint.substr(0, colon);
  if (colon == std::string::npos) return h;
  const std::string option = hint.substr(colon + 1);
  const std::string key = "alpha=";
  std::istringstream value(option.rfind(key, 0) == 0 ? option.substr(key.size()) : "");
  double alpha = 0;
  if (!(value >> alpha) || !value.eof() || !(alpha > 0))
    throw Error(path + ": cannot understand the architecture '" + hint +
                "' (expected e.g. keras-mobilenet-v2:alpha=0.35)");
  h.alpha = alpha;
  return h;
}

std::string format_alpha(double alpha) {
  std::ostringstream s;
  s << alpha;
  std::string out = s.str();
  if (out.find_first_of(".e") == std::string::npos) out += ".0";
  return out;
}

std::string with_thousands(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// A Keras variable: the dataset "<...>/<layer>/<variable>", e.g. ".../Conv1/kernel:0".
struct Variable {
  std::string layer, name;
  Hdf5File::Dataset dataset;
};

std::vector<Variable> keras_variables(const Hdf5File& file) {
  // A saved model keeps its layers under model_weights/ (optimizer state lives beside it); a
  // weights-only file at the top level.
  const std::string root = file.has_group("model_weights") ? "model_weights" : "/";
  std::vector<Variable> out;
  for (auto& d : file.datasets(root)) {
    const size_t last = d.path.rfind('/');
    if (last == std::string::npos || last == 0) continue;
    const size_t before = d.path.rfind('/', last - 1);
    const size_t start = before == std::string::npos ? 0 : before + 1;
    out.push_back({d.path.substr(start, last - start), d.path.substr(last + 1), d});
  }
  return out;
}

// Keras variable → (PyTorch name suffix, tensor in PyTorch's layout).
std::pair<std::string, torch::Tensor> to_torch(const Hdf5File& file, const Variable& v) {
  const auto& d = v.dataset;
  if (!d.is_float) throw Error(file.path() + ": dataset '" + d.path + "' does not hold floats");
  std::vector<float> values = file.read_floats(d.path);
  torch::Tensor t = torch::from_blob(values.data(), d.shape, torch::kFloat32).clone();
  if (v.name == "kernel:0" && t.dim() == 4) return {"weight", t.permute({3, 2, 0, 1}).contiguous()};  // HWIO → OIHW
  if (v.name == "depthwise_kernel:0" && t.dim() == 4) {  // H,W,C,M → C·M,1,H,W (output c·M+m reads input c)
    const auto h = t.size(0), w = t.size(1), c = t.size(2), m = t.size(3);
    return {"weight", t.permute({2, 3, 0, 1}).reshape({c * m, 1, h, w}).contiguous()};
  }
  if (v.name == "kernel:0" && t.dim() == 2) return {"weight", t.t().contiguous()};  // Dense: in,out → out,in
  if (v.name == "bias:0") return {"bias", t};
  if (v.name == "gamma:0") return {"weight", t};
  if (v.name == "beta:0") return {"bias", t};
  if (v.name == "moving_mean:0") return {"running_mean", t};
  if (v.name == "moving_variance:0") return {"running_var", t};
  return {v.name, t};  // unknown: kept under its own name so the strict load reports it
}

// Output channels of a convolution variable, or -1.
int64_t conv_width(const Variable& v) {
  const auto& s = v.dataset.shape;
  if (s.size() != 4) return -1;
  if (v.name == "kernel:0") return s[3];
  if (v.name == "depthwise_kernel:0") return s[2] * s[3];
  return -1;
}

// The alpha whose layer widths the file has; if none fits exactly, the closest (the strict load
// then lists what differs).
double recognise_alpha(const KerasArch& arch, const std::map<std::string, int64_t>& file_widths) {
  std::vector<double> candidates = arch.published_alphas;
  for (int i = 5; i <= 400; ++i) candidates.push_back(i / 100.0);
  double best = candidates.front();
  size_t best_score = 0;
  for (double alpha : candidates) {
    const Widths widths = arch.widths(alpha);
    size_t score = 0;
    for (const auto& [layer, w] : widths) {
      auto it = file_widths.find(layer);
      if (it != file_widths.end() && it->second == w) ++score;
    }
    if (score == widths.size() && score == file_widths.size()) return alpha;
    if (score > best_score) best = alpha, best_score = score;
  }
  return best;
}

std::string list_some(const std::vector<std::string>& names, size_t max = 12) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < max; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > max) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s;
}

const KerasArch* find_keras_arch(const std::string& name) {
  for (const auto& a : keras_archs())
    if (a.name == name) return &a;
  return nullptr;
}

}  // namespace

KerasBackboneWeights read_keras_backbone(const std::string& path, const std::string& arch_hint) {
  const Hint hint = parse_hint(arch_hint, path);
  Hdf5File file(path);
  const std::vector<Variable> variables = keras_variables(file);

  std::map<std::string, std::string> layer_path;  // layer → its group, to refuse ambiguous files
  std::vector<std::string> layer_names;
  for (const auto& v : variables) {
    const std::string group = v.dataset.path.substr(0, v.dataset.path.rfind('/'));
    auto [it, inserted] = layer_path.emplace(v.layer, group);
    if (inserted) layer_names.push_back(v.layer);
  }

  std::vector<const KerasArch*> present;
  for (const auto& a : keras_archs())
    if (layer_path.count(a.stem) && layer_path.count(a.second)) present.push_back(&a);
  if (present.empty()) {
    std::string msg = path + ": no known Keras backbone in this HDF5 file (looked for the layers of " +
                      "keras.applications MobileNetV2 (Conv1, block_N_expand, ...) and MobileNet V1 " +
                      "(conv1, conv_dw_N, ...))";
    msg += layer_names.empty() ? "; it holds no weights" : "; its layers: " + list_some(layer_names);
    throw Error(msg);
  }

  const KerasArch* arch = present.front();
  if (!hint.arch.empty()) {
    const KerasArch* wanted = find_keras_arch(hint.arch);
    bool found = false;
    for (const KerasArch* a : present) found = found || a == wanted;
    if (!found)
      throw Error(path + ": holds a " + arch->title + " backbone (" + arch->name + "), not " + hint.arch + " as asked");
    arch = wanted;
  } else if (present.size() > 1) {
    throw Error(path + ": holds the layers of several backbones (" + present[0]->name + ", " + present[1]->name +
                "); name the architecture to load");
  }

  KerasBackboneWeights out;
  out.arch = arch->name;
  std::map<std::string, int64_t> widths;
  for (const auto& v : variables) {
    if (!std::regex_match(v.layer, arch->layer)) continue;  // a dense head, a preprocessing layer, ...
    const std::string group = v.dataset.path.substr(0, v.dataset.path.rfind('/'));
    if (layer_path.at(v.layer) != group)
      throw Error(path + ": layer " + v.layer + " appears twice (" + layer_path.at(v.layer) + " and " + group +
                  "); cannot tell which backbone to load");
    auto [suffix, tensor] = to_torch(file, v);
    out.weights.emplace_back(v.layer + "." + suffix, tensor);
    const int64_t w = conv_width(v);
    if (w >= 0) widths[v.layer] = w;
  }
  out.alpha = recognise_alpha(*arch, widths);
  return out;
}

Pretrained load_keras_backbone(const std::string& path, const std::string& arch_hint) {
  const KerasBackboneWeights found = read_keras_backbone(path, arch_hint);
  const Hint hint = parse_hint(arch_hint, path);
  Pretrained p;
  p.arch = found.arch;
  p.options.alpha = hint.alpha ? *hint.alpha : found.alpha;
  p.backbone = make_backbone(p.arch, p.options);
  try {
    load_state_dict(*p.backbone, found.weights, path);
  } catch (const Error& e) {
    const auto& widths = find_keras_arch(p.arch)->widths;
    if (!hint.alpha || widths(*hint.alpha) == widths(found.alpha)) throw;  // not a matter of width
    throw Error(path + ": its shapes are those of " + found.arch + " alpha=" + format_alpha(found.alpha) +
                ", not alpha=" + format_alpha(*hint.alpha) + " as asked\n" + e.what());
  }
  p.backbone->eval();
  int64_t count = 0;
  for (const auto& [name, t] : found.weights) count += t.numel();
  p.description = find_keras_arch(p.arch)->title + " alpha=" + format_alpha(p.options.alpha) + " (" +
                  with_thousands(count) + " parameters)";
  return p;
}

}  // namespace imagefit

#include "weights/keras_h5.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.h"
#include "models/keras_inception_v3.h"
#include "models/keras_mobilenet_v1.h"
#include "models/keras_mobilenet_v2.h"
#include "models/keras_resnet.h"
#include "models/keras_vgg.h"
#include "models/keras_xception.h"
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

// A Keras backbone whose model lists its weighted layers in creation order (models/keras_ops.h
// LayerSpec): explicitly named layers are matched by name, automatically named ones (conv2d_N,
// batch_normalization_N) by name or by order.
struct OrderedKerasArch {
  std::string name;   // registry name
  std::string title;  // for messages
  std::function<std::vector<keras::LayerSpec>()> layers;
  // The names the architecture's family gives its layers ("" for none): a file with a layer of the
  // family that this architecture lacks (VGG19's block3_conv4 for VGG16, ResNet101's conv4_block7_*
  // for ResNet50) is not this architecture.
  std::string family;
};

const std::vector<OrderedKerasArch>& ordered_archs() {
  static const std::string resnet = "conv[0-9]+_(conv|bn)|conv[0-9]+_block[0-9]+_[0-9]+_(conv|bn)";
  static const std::string vgg = "block[0-9]+_conv[0-9]+";
  static const std::string xception = "block[0-9]+_(conv|sepconv)[0-9]+(_bn)?";
  static const std::vector<OrderedKerasArch> archs = {
      {"keras-inception-v3", "Keras InceptionV3", KerasInceptionV3Impl::keras_layers, ""},
      {"keras-resnet50", "Keras ResNet50",
       [] { return KerasResNetImpl::keras_layers(KerasResNetImpl::settings("keras-resnet50")); }, resnet},
      {"keras-vgg16", "Keras VGG16", [] { return KerasVggImpl::keras_layers(KerasVggImpl::settings("keras-vgg16")); },
       vgg},
      {"keras-vgg19", "Keras VGG19", [] { return KerasVggImpl::keras_layers(KerasVggImpl::settings("keras-vgg19")); },
       vgg},
      {"keras-xception", "Keras Xception", KerasXceptionImpl::keras_layers, xception},
  };
  return archs;
}

const OrderedKerasArch* find_ordered_arch(const std::string& name) {
  for (const auto& a : ordered_archs())
    if (a.name == name) return &a;
  return nullptr;
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

// "kernel:0" → "kernel" (Keras 2 names variables with ":0", later versions without).
std::string variable_name(const std::string& name) {
  return name.size() > 2 && name.compare(name.size() - 2, 2, ":0") == 0 ? name.substr(0, name.size() - 2) : name;
}

// A Keras variable's (PyTorch name suffix, tensor in PyTorch's layout).
std::pair<std::string, torch::Tensor> to_torch_layout(const std::string& keras_name, torch::Tensor t) {
  const std::string name = variable_name(keras_name);
  if (name == "kernel" && t.dim() == 4) return {"weight", t.permute({3, 2, 0, 1}).contiguous()};  // HWIO → OIHW
  if (name == "depthwise_kernel" && t.dim() == 4) {  // H,W,C,M → C·M,1,H,W (output c·M+m reads input c)
    const auto h = t.size(0), w = t.size(1), c = t.size(2), m = t.size(3);
    return {"weight", t.permute({2, 3, 0, 1}).reshape({c * m, 1, h, w}).contiguous()};
  }
  if (name == "kernel" && t.dim() == 2) return {"weight", t.t().contiguous()};  // Dense: in,out → out,in
  if (name == "bias") return {"bias", t};
  if (name == "gamma") return {"weight", t};
  if (name == "beta") return {"bias", t};
  if (name == "moving_mean") return {"running_mean", t};
  if (name == "moving_variance") return {"running_var", t};
  return {keras_name, t};  // unknown: kept under its own name so the strict load reports it
}

// Keras variable → (PyTorch name suffix, tensor in PyTorch's layout).
std::pair<std::string, torch::Tensor> to_torch(const Hdf5File& file, const Variable& v) {
  const auto& d = v.dataset;
  if (!d.is_float) throw Error(file.path() + ": dataset '" + d.path + "' does not hold floats");
  std::vector<float> values = file.read_floats(d.path);
  torch::Tensor t = torch::from_blob(values.data(), d.shape, torch::kFloat32).clone();
  return to_torch_layout(v.name, t);
}

// Output channels of a convolution variable, or -1.
int64_t conv_width(const Variable& v) {
  const auto& s = v.dataset.shape;
  if (s.size() != 4) return -1;
  if (variable_name(v.name) == "kernel") return s[3];
  if (variable_name(v.name) == "depthwise_kernel") return s[2] * s[3];
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

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return s.empty() ? "scalar" : s;
}

std::string ordinal(size_t n) {
  const size_t mod100 = n % 100, mod10 = n % 10;
  const char* suffix = (mod100 >= 11 && mod100 <= 13) ? "th" : mod10 == 1 ? "st" : mod10 == 2 ? "nd" : mod10 == 3 ? "rd" : "th";
  return std::to_string(n) + suffix;
}

// An automatically named Keras layer: "conv2d_12" → kind "conv2d", number 12; "conv2d" → number 0.
struct AutoName {
  std::string kind;
  int64_t number = -1;  // -1: not an automatic name of the kinds asked for
};
AutoName parse_auto_name(const std::string& layer, const std::vector<std::string>& kinds) {
  for (const auto& k : kinds) {
    if (layer == k) return {k, 0};
    if (layer.size() > k.size() + 1 && layer.compare(0, k.size() + 1, k + "_") == 0) {
      const std::string digits = layer.substr(k.size() + 1);
      if (digits.size() <= 9 && digits.find_first_not_of("0123456789") == std::string::npos) return {k, std::stoll(digits)};
    }
  }
  return {};
}

// The file's layers of an automatically named architecture's kinds, by kind, in file order.
struct AutoLayers {
  std::vector<std::string> kinds;                                     // in the order the architecture lists them
  std::map<std::string, std::vector<std::pair<int64_t, std::string>>> by_kind;  // kind → (number, layer)
  std::map<std::string, std::vector<const Variable*>> variables;     // layer → its variables
};

AutoLayers auto_layers(const std::vector<keras::LayerSpec>& specs,
                       const std::vector<Variable>& variables) {
  AutoLayers out;
  for (const auto& spec : specs)
    if (spec.automatic && std::find(out.kinds.begin(), out.kinds.end(), spec.kind) == out.kinds.end())
      out.kinds.push_back(spec.kind);
  for (const auto& v : variables) {
    const AutoName n = parse_auto_name(v.layer, out.kinds);
    if (n.number < 0) continue;
    auto& vars = out.variables[v.layer];
    if (vars.empty()) out.by_kind[n.kind].emplace_back(n.number, v.layer);
    vars.push_back(&v);
  }
  return out;
}

// Why the file does not hold this architecture ("" when it does): every explicitly named layer
// present, as many automatically named layers of each kind as the architecture has, and no layer of
// the architecture's family beyond its own. `missing` counts the explicit layers absent, `distance`
// those and the family's layers in excess (how far the file is from this architecture).
std::string fit_problem(const OrderedKerasArch& arch, const std::vector<keras::LayerSpec>& specs,
                        const std::vector<Variable>& variables,
                        const std::map<std::string, std::string>& layer_path,
                        const std::vector<std::string>& layer_names, size_t* missing = nullptr,
                        size_t* distance = nullptr) {
  std::vector<std::string> absent;
  std::map<std::string, size_t> wanted;
  std::set<std::string> own;
  for (const auto& spec : specs) {
    if (spec.automatic) {
      ++wanted[spec.kind];
    } else {
      own.insert(spec.name);
      if (!layer_path.count(spec.name)) absent.push_back(spec.name);
    }
  }
  std::vector<std::string> extra;
  if (!arch.family.empty()) {
    const std::regex family(arch.family);
    for (const auto& l : layer_names)
      if (!own.count(l) && std::regex_match(l, family)) extra.push_back(l);
  }
  if (missing) *missing = absent.size();
  if (distance) *distance = absent.size() + extra.size();
  if (!absent.empty()) return "it lacks the layer" + std::string(absent.size() > 1 ? "s " : " ") + list_some(absent);
  const AutoLayers found = auto_layers(specs, variables);
  for (const auto& [kind, n] : wanted) {
    auto it = found.by_kind.find(kind);
    const size_t have = it == found.by_kind.end() ? 0 : it->second.size();
    if (have != n)
      return "it has " + std::to_string(have) + " " + kind + " layers with weights, " + arch.title + " has " +
             std::to_string(n);
  }
  if (!extra.empty()) return "it has layers " + arch.title + " does not (a deeper variant?): " + list_some(extra);
  return "";
}

// Reads an automatically named architecture: each of the model's layers takes the file layer of the
// same name when every name fits, else the file layer of the same rank among those of its kind
// (ordered by the number in the name, which Keras gives in creation order); shapes are checked layer
// by layer so that a file of another architecture is an error naming the first layer that differs.
KerasBackboneWeights read_auto_named(const std::string& path, const Hdf5File& file,
                                     const std::vector<Variable>& variables,
                                     const std::map<std::string, std::string>& layer_path,
                                     const OrderedKerasArch& arch) {
  const std::vector<keras::LayerSpec> specs = arch.layers();
  AutoLayers found = auto_layers(specs, variables);
  std::map<std::string, size_t> wanted;
  for (const auto& spec : specs)
    if (spec.automatic) ++wanted[spec.kind];
  for (const auto& kind : found.kinds) {
    const size_t have = found.by_kind.count(kind) ? found.by_kind.at(kind).size() : 0;
    if (have != wanted[kind])
      throw Error(path + ": does not fit " + arch.title + " (" + arch.name + "): it has " + std::to_string(have) + " " +
                  kind + " layers with weights, " + arch.title + " has " + std::to_string(wanted[kind]));
  }
  bool by_name = true;  // for the automatically named layers; explicit names always match by name
  for (const auto& spec : specs)
    if (spec.automatic) by_name = by_name && found.variables.count(spec.name);
  std::map<std::string, std::vector<const Variable*>> named;  // explicitly named layer → its variables
  for (const auto& v : variables) named[v.layer].push_back(&v);
  std::map<std::string, size_t> rank;  // kind → layers of that kind matched so far
  for (auto& [kind, layers] : found.by_kind) {
    std::sort(layers.begin(), layers.end());
    for (size_t i = 1; i < layers.size(); ++i)
      if (layers[i].first == layers[i - 1].first)
        throw Error(path + ": layers " + layers[i - 1].second + " and " + layers[i].second +
                    " have the same number; cannot tell their order");
  }

  KerasBackboneWeights out;
  out.arch = arch.name;
  out.matched_by = by_name ? "name" : "order";
  for (const auto& spec : specs) {
    const size_t r = spec.automatic ? rank[spec.kind]++ : 0;
    const bool ordered = spec.automatic && !by_name;
    const std::string layer = ordered ? found.by_kind.at(spec.kind).at(r).second : spec.name;
    auto misfit = [&](const std::string& why) {
      return Error(path + ": layer " + layer + " does not fit " + arch.title + " (" + arch.name + "): " +
                   (ordered ? "matched by order to its " + ordinal(r + 1) + " " + spec.kind + " layer (" +
                                  spec.name + "), "
                            : "") +
                   why);
    };
    if (!layer_path.count(layer))
      throw Error(path + ": does not fit " + arch.title + " (" + arch.name + "): it has no layer " + layer);
    const std::string group = layer_path.at(layer);
    std::map<std::string, const Variable*> vars;
    for (const Variable* v : spec.automatic ? found.variables.at(layer) : named.at(layer)) {
      if (v->dataset.path.substr(0, v->dataset.path.rfind('/')) != group)
        throw Error(path + ": layer " + layer + " appears twice (" + group + " and " +
                    v->dataset.path.substr(0, v->dataset.path.rfind('/')) + "); cannot tell which backbone to load");
      vars[variable_name(v->name)] = v;
    }
    std::vector<std::string> expected;
    if (spec.kind == "conv2d") {
      expected = {"kernel"};
    } else if (spec.kind == "separable_conv2d") {
      expected = {"depthwise_kernel", "pointwise_kernel"};
    } else {
      expected = {"beta", "moving_mean", "moving_variance"};
      if (spec.scale) expected.insert(expected.begin(), "gamma");
    }
    if (spec.bias) expected.push_back("bias");
    std::string have;
    for (const auto& [n, v] : vars) have += (have.empty() ? "" : ", ") + n;
    if (vars.size() != expected.size())
      throw misfit("it holds " + have + "; expected " + list_some(expected));
    for (const auto& name : expected) {
      auto it = vars.find(name);
      if (it == vars.end()) throw misfit("it holds " + have + "; expected " + list_some(expected));
      const auto& shape = it->second->dataset.shape;
      const auto& k = spec.shape;
      const std::vector<int64_t> want = name == "kernel"             ? k
                                        : name == "depthwise_kernel" ? std::vector<int64_t>{k.at(0), k.at(1), k.at(2), 1}
                                        : name == "pointwise_kernel" ? std::vector<int64_t>{1, 1, k.at(2), k.at(3)}
                                        : name == "bias"             ? std::vector<int64_t>{k.back()}
                                                                     : std::vector<int64_t>{k.at(0)};
      if (shape != want)
        throw misfit(name + " is " + shape_text(shape) + ", expected " + shape_text(want) + " (" + spec.module + ")");
      auto [suffix, tensor] = to_torch(file, *it->second);
      // A SeparableConv2D's two kernels go to its depthwise and pointwise convolutions (HWIO → OIHW).
      if (name == "depthwise_kernel") suffix = "depthwise.weight";
      if (name == "pointwise_kernel") suffix = "pointwise.weight", tensor = tensor.permute({3, 2, 0, 1}).contiguous();
      out.parameters += tensor.numel();
      out.weights.emplace_back(spec.module + "." + suffix, tensor);
    }
    if (spec.kind == "batch_normalization" && !spec.scale)  // the model's fixed scale of ones
      out.weights.emplace_back(spec.module + ".weight", torch::ones({spec.shape.at(0)}));
  }
  return out;
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

  // Architectures the file's layers look like: named ones by two of their layer names, automatically
  // named ones by their count of layers of each kind.
  std::vector<std::pair<std::string, std::string>> present;  // (name, title)
  for (const auto& a : keras_archs())
    if (layer_path.count(a.stem) && layer_path.count(a.second)) present.emplace_back(a.name, a.title);
  // The closest explicitly named architecture that does not fit, to say why.
  const OrderedKerasArch* near = nullptr;
  std::string near_problem;
  size_t near_distance = 0;
  std::map<std::string, std::string> problems;  // architecture → why the file does not fit it
  for (const auto& a : ordered_archs()) {
    const auto specs = a.layers();
    size_t missing = 0, distance = 0;
    const std::string problem = fit_problem(a, specs, variables, layer_path, layer_names, &missing, &distance);
    if (problem.empty()) {
      present.emplace_back(a.name, a.title);
      continue;
    }
    problems[a.name] = problem;
    size_t explicit_layers = 0;
    for (const auto& s : specs) explicit_layers += !s.automatic;
    if (explicit_layers > 0 && missing < explicit_layers && (!near || distance < near_distance))
      near = &a, near_problem = problem, near_distance = distance;
  }
  // An automatically named architecture asked for by name is read even if its layer count is off:
  // read_auto_named then says what does not fit.
  if (const OrderedKerasArch* wanted = find_ordered_arch(hint.arch)) {
    bool found = false;
    for (const auto& p : present) found = found || p.first == wanted->name;
    bool explicit_names = false;
    for (const auto& s : wanted->layers()) explicit_names = explicit_names || !s.automatic;
    if (!found && present.empty() && explicit_names)
      throw Error(path + ": does not fit " + wanted->title + " (" + wanted->name + "): " + problems.at(wanted->name));
    if (!found && present.empty()) return read_auto_named(path, file, variables, layer_path, *wanted);
  }
  if (present.empty() && near)
    throw Error(path + ": has layers of " + near->title + " (" + near->name + ") but does not fit it: " + near_problem);
  if (present.empty()) {
    std::string msg = path + ": no known Keras backbone in this HDF5 file (looked for the layers of " +
                      "keras.applications MobileNetV2 (Conv1, block_N_expand, ...), MobileNet V1 " +
                      "(conv1, conv_dw_N, ...), InceptionV3 (94 conv2d_N and 94 batch_normalization_N layers), " +
                      "ResNet50 (conv1_conv, convS_blockB_N_conv, ...), VGG16/VGG19 (block1_conv1, ...) and " +
                      "Xception (block1_conv1, block2_sepconv1, ...))";
    msg += layer_names.empty() ? "; it holds no weights" : "; its layers: " + list_some(layer_names);
    throw Error(msg);
  }

  std::string chosen = present.front().first;
  if (!hint.arch.empty()) {
    bool found = false;
    for (const auto& p : present) found = found || p.first == hint.arch;
    if (!found)
      throw Error(path + ": holds a " + present.front().second + " backbone (" + present.front().first + "), not " +
                  hint.arch + " as asked");
    chosen = hint.arch;
  } else if (present.size() > 1) {
    throw Error(path + ": holds the layers of several backbones (" + present[0].first + ", " + present[1].first +
                "); name the architecture to load");
  }
  if (const OrderedKerasArch* ordered = find_ordered_arch(chosen))
    return read_auto_named(path, file, variables, layer_path, *ordered);
  const KerasArch* arch = find_keras_arch(chosen);

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
    out.parameters += tensor.numel();
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
  if (const OrderedKerasArch* ordered = find_ordered_arch(p.arch)) {
    if (hint.alpha) throw Error(path + ": " + p.arch + " has no width multiplier (alpha)");
    p.backbone = make_backbone(p.arch, p.options);
    load_state_dict(*p.backbone, found.weights, path);
    p.backbone->eval();
    p.description = ordered->title + " (" + with_thousands(found.parameters) + " parameters; layers matched by " +
                    found.matched_by + ")";
    return p;
  }
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
  p.description = find_keras_arch(p.arch)->title + " alpha=" + format_alpha(p.options.alpha) + " (" +
                  with_thousands(found.parameters) + " parameters)";
  return p;
}

}  // namespace imagefit

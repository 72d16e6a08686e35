#include "export/onnx_module_converters.h"

#include "core/error.h"

namespace imagefit::onnx_export {

namespace {

std::string type_name(const torch::nn::Module& m) { return m.name(); }

}  // namespace

ModuleConverter::ModuleConverter(OnnxGraphBuilder& builder, torch::nn::Module& root) : builder_(builder) {
  for (const auto& item : root.named_modules()) {
    modules_[item.key()] = item.value();
    auto& kids = children_[item.key()];
    for (const auto& child : item.value()->named_children())
      kids.push_back(item.key().empty() ? child.key() : item.key() + "." + child.key());
  }
}

std::shared_ptr<torch::nn::Module> ModuleConverter::module(const std::string& path) const {
  auto it = modules_.find(path);
  if (it == modules_.end()) throw Error("ONNX export: the network has no module '" + path + "'");
  return it->second;
}

std::vector<std::string> ModuleConverter::children(const std::string& path) const {
  auto it = children_.find(path);
  if (it == children_.end()) throw Error("ONNX export: the network has no module '" + path + "'");
  return it->second;
}

torch::nn::Conv2dImpl& ModuleConverter::conv_module(const std::string& path) const {
  auto m = module(path);
  auto* conv = m->as<torch::nn::Conv2dImpl>();
  if (!conv) throw Error("ONNX export: module '" + path + "' is a " + type_name(*m) + ", not a Conv2d");
  return *conv;
}

OnnxValue ModuleConverter::conv2d(const OnnxValue& x, const std::string& path, const Pads& extra_padding) {
  auto& conv = conv_module(path);
  const auto& o = conv.options;
  if (!c10::get_if<torch::enumtype::kZeros>(&o.padding_mode()))
    throw Error("ONNX export: convolution '" + path + "' pads with something other than zeros");
  Conv2dParams p;
  p.kernel_h = (*o.kernel_size())[0];
  p.kernel_w = (*o.kernel_size())[1];
  p.stride_h = (*o.stride())[0];
  p.stride_w = (*o.stride())[1];
  p.dilation_h = (*o.dilation())[0];
  p.dilation_w = (*o.dilation())[1];
  p.groups = o.groups();
  if (const auto* sizes = c10::get_if<torch::ExpandingArray<2>>(&o.padding())) {
    p.pads = {(**sizes)[0], (**sizes)[1], (**sizes)[0], (**sizes)[1]};
  } else if (c10::get_if<torch::enumtype::kSame>(&o.padding())) {
    // PyTorch "same" (stride 1): the odd pixel of padding goes at the end.
    const int64_t th = p.dilation_h * (p.kernel_h - 1), tw = p.dilation_w * (p.kernel_w - 1);
    p.pads = {th / 2, tw / 2, th - th / 2, tw - tw / 2};
  }  // kValid: no padding
  p.pads = p.pads + extra_padding;
  return builder_.conv(x, path, conv.weight, o.bias() ? conv.bias : torch::Tensor(), p);
}

OnnxValue ModuleConverter::batch_norm(const OnnxValue& x, const std::string& path) {
  auto m = module(path);
  auto* bn = m->as<torch::nn::BatchNorm2dImpl>();
  if (!bn) throw Error("ONNX export: module '" + path + "' is a " + type_name(*m) + ", not a BatchNorm2d");
  const auto& o = bn->options;
  if (!o.track_running_stats()) throw Error("ONNX export: batch norm '" + path + "' keeps no running statistics");
  const int64_t c = o.num_features();
  const torch::Tensor scale = o.affine() ? bn->weight : torch::ones({c});
  const torch::Tensor bias = o.affine() ? bn->bias : torch::zeros({c});
  return builder_.batch_norm(x, path, scale, bias, bn->running_mean, bn->running_var, o.eps());
}

OnnxValue ModuleConverter::linear(const OnnxValue& x, const std::string& path) {
  auto m = module(path);
  auto* fc = m->as<torch::nn::LinearImpl>();
  if (!fc) throw Error("ONNX export: module '" + path + "' is a " + type_name(*m) + ", not a Linear");
  return builder_.gemm(x, path, fc->weight, fc->options.bias() ? fc->bias : torch::Tensor());
}

OnnxValue ModuleConverter::max_pool(const OnnxValue& x, const std::string& path) {
  auto m = module(path);
  auto* pool = m->as<torch::nn::MaxPool2dImpl>();
  if (!pool) throw Error("ONNX export: module '" + path + "' is a " + type_name(*m) + ", not a MaxPool2d");
  const auto& o = pool->options;
  if ((*o.dilation())[0] != 1 || (*o.dilation())[1] != 1)
    throw Error("ONNX export: dilated max pooling '" + path + "' is not supported");
  PoolParams p;
  p.kernel_h = (*o.kernel_size())[0];
  p.kernel_w = (*o.kernel_size())[1];
  p.stride_h = (*o.stride())[0];
  p.stride_w = (*o.stride())[1];
  p.pads = {(*o.padding())[0], (*o.padding())[1], (*o.padding())[0], (*o.padding())[1]};
  p.ceil_mode = o.ceil_mode();
  return builder_.max_pool(x, path, p);
}

OnnxValue ModuleConverter::activation(const OnnxValue& x, Activation activation, const std::string& name) {
  switch (activation) {
    case Activation::None: return x;
    case Activation::ReLU: return builder_.relu(x, name);
    case Activation::ReLU6: return builder_.clip(x, name, 0.f, 6.f);
    // torch.nn.functional.hardsigmoid = relu6(x + 3) / 6 = clamp(x / 6 + 1 / 2, 0, 1).
    case Activation::Hardsigmoid: return builder_.hard_sigmoid(x, name, 1.f / 6.f, 0.5f);
    // HardSwish is an opset-14 operator: x * hardsigmoid(x) in opset 13.
    case Activation::Hardswish:
      return builder_.mul(x, builder_.hard_sigmoid(x, name + ".hardsigmoid", 1.f / 6.f, 0.5f), name);
    case Activation::SiLU: return builder_.mul(x, builder_.sigmoid(x, name + ".sigmoid"), name);
    case Activation::Sigmoid: return builder_.sigmoid(x, name);
  }
  return x;
}

OnnxValue ModuleConverter::squeeze_excitation(const OnnxValue& x, const std::string& path, Activation activation,
                                              Activation scale_activation) {
  OnnxValue s = builder_.global_average_pool(x, path + ".avgpool");
  s = conv2d(s, path + ".fc1");
  s = this->activation(s, activation, path + ".activation");
  s = conv2d(s, path + ".fc2");
  s = this->activation(s, scale_activation, path + ".scale_activation");
  // The N×C×1×1 scale is replicated to N×C×H×W before the product: OpenCV 4.6 cannot broadcast a
  // computed tensor when the batch dimension is dynamic.
  s = builder_.resize_nearest(s, path + ".scale_map", x.height(), x.width());
  return builder_.mul(x, s, path);
}

OnnxValue ModuleConverter::forward(const OnnxValue& x, const std::string& path) {
  auto m = module(path);
  namespace nn = torch::nn;
  if (m->as<nn::Conv2dImpl>()) return conv2d(x, path);
  if (m->as<nn::BatchNorm2dImpl>()) return batch_norm(x, path);
  if (m->as<nn::LinearImpl>()) return linear(x, path);
  if (m->as<nn::MaxPool2dImpl>()) return max_pool(x, path);
  if (m->as<nn::ReLUImpl>()) return builder_.relu(x, path);
  if (m->as<nn::ReLU6Impl>()) return builder_.clip(x, path, 0.f, 6.f);
  if (auto* h = m->as<nn::HardtanhImpl>())
    return builder_.clip(x, path, static_cast<float>(h->options.min_val()), static_cast<float>(h->options.max_val()));
  if (m->as<nn::SiLUImpl>()) return activation(x, Activation::SiLU, path);
  if (m->as<nn::SigmoidImpl>()) return builder_.sigmoid(x, path);
  if (auto* a = m->as<tv::ActivationLayerImpl>()) return activation(x, a->activation(), path);
  if (m->as<nn::DropoutImpl>() || m->as<nn::Dropout2dImpl>() || m->as<nn::IdentityImpl>()) return x;
  if (m->as<nn::FlattenImpl>()) {
    if (m->as<nn::FlattenImpl>()->options.start_dim() != 1 || m->as<nn::FlattenImpl>()->options.end_dim() != -1)
      throw Error("ONNX export: flatten '" + path + "' other than from dimension 1 is not supported");
    return builder_.flatten(x, path);
  }
  if (auto* pool = m->as<nn::AdaptiveAvgPool2dImpl>()) {
    const auto& size = pool->options.output_size();
    if ((*size)[0] == 1 && (*size)[1] == 1) return builder_.global_average_pool(x, path);
    throw Error("ONNX export: adaptive average pooling '" + path + "' to other than 1x1 is not supported");
  }
  if (auto* pool = m->as<nn::AvgPool2dImpl>()) {
    const auto& o = pool->options;
    if (o.divisor_override()) throw Error("ONNX export: average pooling '" + path + "' with a divisor override");
    PoolParams p;
    p.kernel_h = (*o.kernel_size())[0];
    p.kernel_w = (*o.kernel_size())[1];
    p.stride_h = (*o.stride())[0];
    p.stride_w = (*o.stride())[1];
    p.pads = {(*o.padding())[0], (*o.padding())[1], (*o.padding())[0], (*o.padding())[1]};
    p.ceil_mode = o.ceil_mode();
    return builder_.average_pool(x, path, p, o.count_include_pad());
  }
  if (auto* se = m->as<tv::SqueezeExcitationImpl>())
    return squeeze_excitation(x, path, se->activation(), se->scale_activation());
  if (m->as<nn::SequentialImpl>()) {  // also tv::Sequential, which derives from it
    OnnxValue y = x;
    for (const auto& child : children(path)) y = forward(y, child);
    return y;
  }
  if (block_) return block_(*this, x, path);
  throw Error("ONNX export: no converter for module '" + path + "' (" + type_name(*m) + ")");
}

}  // namespace imagefit::onnx_export

#include "export/onnx_graph_builder.h"

#include <algorithm>
#include <sstream>

#include "core/error.h"

namespace imagefit::onnx_export {

namespace {

std::string shape_string(const std::vector<int64_t>& s) {
  std::ostringstream o;
  for (size_t i = 0; i < s.size(); ++i) o << (i ? "x" : "") << (s[i] < 0 ? std::string("N") : std::to_string(s[i]));
  return o.str();
}

void fill_value_info(onnx::ValueInfoProto* info, const std::string& name, const std::vector<int64_t>& shape) {
  info->set_name(name);
  auto* tensor_type = info->mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(onnx::TensorProto::FLOAT);
  auto* s = tensor_type->mutable_shape();
  for (int64_t d : shape) {
    auto* dim = s->add_dim();
    if (d < 0) {
      dim->set_dim_param("N");
    } else {
      dim->set_dim_value(d);
    }
  }
}

// ONNX's own output-size formula (no PyTorch rule about the last window), to refuse graphs where the two differ.
int64_t onnx_window_output_size(int64_t in, int64_t pads, int64_t kernel, int64_t stride, int64_t dilation, bool ceil) {
  const int64_t span = in + pads - ((kernel - 1) * dilation + 1);
  return (ceil ? (span + stride - 1) / stride : span / stride) + 1;
}

}  // namespace

int64_t window_output_size(int64_t in, int64_t pad_begin, int64_t pad_end, int64_t kernel, int64_t stride,
                           int64_t dilation, bool ceil_mode) {
  const int64_t span = in + pad_begin + pad_end - dilation * (kernel - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

void set_attribute(onnx::NodeProto* n, const std::string& name, int64_t value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void set_attribute(onnx::NodeProto* n, const std::string& name, float value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

void set_attribute(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& values) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

OnnxGraphBuilder::OnnxGraphBuilder(const std::string& graph_name) {
  model_.set_ir_version(7);  // the IR version of opset 13 (ONNX 1.8)
  model_.set_producer_name("imagefit");
  model_.set_producer_version("0.1.0");
  auto* opset = model_.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  graph_ = model_.mutable_graph();
  graph_->set_name(graph_name);
}

std::string OnnxGraphBuilder::unique(const std::string& hint) {
  std::string base = hint.empty() ? "value" : hint;
  std::string name = base;
  for (int i = 1; names_.count(name); ++i) name = base + "_" + std::to_string(i);
  names_.insert(name);
  return name;
}

OnnxValue OnnxGraphBuilder::add_input(const std::string& name, const std::vector<int64_t>& shape) {
  const std::string n = unique(name);
  if (n != name) throw Error("internal: ONNX input name '" + name + "' is taken");
  fill_value_info(graph_->add_input(), n, shape);
  return {n, shape};
}

OnnxValue OnnxGraphBuilder::add_output(const OnnxValue& value, const std::string& name) {
  if (names_.count(name)) throw Error("internal: ONNX output name '" + name + "' is taken");
  names_.insert(name);
  // Rename the producing node's output and every use, so the graph output has the public name.
  for (auto& n : *graph_->mutable_node()) {
    for (auto& o : *n.mutable_output())
      if (o == value.name) o = name;
    for (auto& i : *n.mutable_input())
      if (i == value.name) i = name;
  }
  for (auto& o : *graph_->mutable_output())
    if (o.name() == value.name) o.set_name(name);
  fill_value_info(graph_->add_output(), name, value.shape);
  return {name, value.shape};
}

std::string OnnxGraphBuilder::add_initializer(const std::string& name, const torch::Tensor& tensor) {
  const torch::Tensor t = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  auto* init = graph_->add_initializer();
  init->set_name(unique(name));
  init->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : t.sizes()) init->add_dims(d);
  init->set_raw_data(std::string(static_cast<const char*>(t.data_ptr()), t.numel() * sizeof(float)));  // little-endian
  return init->name();
}

std::string OnnxGraphBuilder::add_int64_initializer(const std::string& name, const std::vector<int64_t>& values) {
  auto* init = graph_->add_initializer();
  init->set_name(unique(name));
  init->set_data_type(onnx::TensorProto::INT64);
  init->add_dims(int64_t(values.size()));
  for (int64_t v : values) init->add_int64_data(v);
  return init->name();
}

onnx::NodeProto* OnnxGraphBuilder::node(const std::string& op, const std::string& name,
                                        const std::vector<std::string>& inputs,
                                        const std::vector<std::string>& outputs) {
  auto* n = graph_->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

OnnxValue OnnxGraphBuilder::conv(const OnnxValue& x, const std::string& name, const torch::Tensor& weight,
                                 const torch::Tensor& bias, const Conv2dParams& p) {
  if (x.shape.size() != 4) throw Error("internal: ONNX Conv " + name + " on a " + shape_string(x.shape) + " value");
  if (weight.dim() != 4 || weight.size(1) * p.groups != x.channels())
    throw Error("internal: ONNX Conv " + name + ": weight does not fit input " + shape_string(x.shape));
  const std::string out = unique(name);
  std::vector<std::string> inputs = {x.name, add_initializer(name + ".weight", weight)};
  if (bias.defined()) inputs.push_back(add_initializer(name + ".bias", bias));
  auto* n = node("Conv", out, inputs, {out});
  set_attribute(n, "kernel_shape", std::vector<int64_t>{p.kernel_h, p.kernel_w});
  set_attribute(n, "strides", std::vector<int64_t>{p.stride_h, p.stride_w});
  set_attribute(n, "dilations", std::vector<int64_t>{p.dilation_h, p.dilation_w});
  set_attribute(n, "pads", std::vector<int64_t>{p.pads.top, p.pads.left, p.pads.bottom, p.pads.right});
  set_attribute(n, "group", p.groups);
  const int64_t h =
      window_output_size(x.height(), p.pads.top, p.pads.bottom, p.kernel_h, p.stride_h, p.dilation_h, false);
  const int64_t w =
      window_output_size(x.width(), p.pads.left, p.pads.right, p.kernel_w, p.stride_w, p.dilation_w, false);
  if (h < 1 || w < 1) throw Error("ONNX export: " + name + " gets an input too small (" + shape_string(x.shape) + ")");
  return {out, {x.shape[0], weight.size(0), h, w}};
}

OnnxValue OnnxGraphBuilder::batch_norm(const OnnxValue& x, const std::string& name, const torch::Tensor& scale,
                                       const torch::Tensor& bias, const torch::Tensor& mean, const torch::Tensor& var,
                                       double epsilon) {
  const std::string out = unique(name);
  auto* n = node("BatchNormalization", out,
                 {x.name, add_initializer(name + ".weight", scale), add_initializer(name + ".bias", bias),
                  add_initializer(name + ".running_mean", mean), add_initializer(name + ".running_var", var)},
                 {out});
  set_attribute(n, "epsilon", static_cast<float>(epsilon));
  return {out, x.shape};
}

OnnxValue OnnxGraphBuilder::gemm(const OnnxValue& x, const std::string& name, const torch::Tensor& weight,
                                 const torch::Tensor& bias) {
  if (x.shape.size() != 2 || weight.size(1) != x.shape[1])
    throw Error("internal: ONNX Gemm " + name + ": weight does not fit input " + shape_string(x.shape));
  const std::string out = unique(name);
  std::vector<std::string> inputs = {x.name, add_initializer(name + ".weight", weight)};
  if (bias.defined()) inputs.push_back(add_initializer(name + ".bias", bias));
  auto* n = node("Gemm", out, inputs, {out});
  set_attribute(n, "transB", int64_t{1});  // PyTorch stores Linear weights out×in
  return {out, {x.shape[0], weight.size(0)}};
}

OnnxValue OnnxGraphBuilder::unary(const std::string& op, const OnnxValue& x, const std::string& name) {
  const std::string out = unique(name);
  node(op, out, {x.name}, {out});
  return {out, x.shape};
}

OnnxValue OnnxGraphBuilder::relu(const OnnxValue& x, const std::string& name) { return unary("Relu", x, name); }
OnnxValue OnnxGraphBuilder::sigmoid(const OnnxValue& x, const std::string& name) { return unary("Sigmoid", x, name); }

OnnxValue OnnxGraphBuilder::clip(const OnnxValue& x, const std::string& name, float lo, float hi) {
  // lo + (hi - lo) * HardSigmoid(x; 1 / (hi - lo), -lo / (hi - lo)) rather than Clip: opset 11+ Clip
  // takes its bounds as inputs, which OpenCV 4.6 (Debian 12's) refuses. Exact at and beyond both
  // bounds, within 2 float ulps in between.
  const float range = hi - lo;
  OnnxValue y = hard_sigmoid(x, name + ".hardsigmoid", 1.f / range, -lo / range);
  y = mul_constant(y, lo == 0.f ? name : name + ".scale", torch::tensor({range}));
  if (lo != 0.f) y = add_constant(y, name, torch::tensor({lo}));
  return y;
}

OnnxValue OnnxGraphBuilder::hard_sigmoid(const OnnxValue& x, const std::string& name, float alpha, float beta) {
  const std::string out = unique(name);
  auto* n = node("HardSigmoid", out, {x.name}, {out});
  set_attribute(n, "alpha", alpha);
  set_attribute(n, "beta", beta);
  return {out, x.shape};
}

OnnxValue OnnxGraphBuilder::max_pool(const OnnxValue& x, const std::string& name, const PoolParams& p) {
  const int64_t h = window_output_size(x.height(), p.pads.top, p.pads.bottom, p.kernel_h, p.stride_h, 1, p.ceil_mode);
  const int64_t w = window_output_size(x.width(), p.pads.left, p.pads.right, p.kernel_w, p.stride_w, 1, p.ceil_mode);
  if (h != onnx_window_output_size(x.height(), p.pads.top + p.pads.bottom, p.kernel_h, p.stride_h, 1, p.ceil_mode) ||
      w != onnx_window_output_size(x.width(), p.pads.left + p.pads.right, p.kernel_w, p.stride_w, 1, p.ceil_mode))
    throw Error("ONNX export: max pooling " + name + " (ceil_mode with padding) on a " + shape_string(x.shape) +
                " input has no exact ONNX equivalent");
  if (h < 1 || w < 1) throw Error("ONNX export: " + name + " gets an input too small (" + shape_string(x.shape) + ")");
  const std::string out = unique(name);
  auto* n = node("MaxPool", out, {x.name}, {out});
  set_attribute(n, "kernel_shape", std::vector<int64_t>{p.kernel_h, p.kernel_w});
  set_attribute(n, "strides", std::vector<int64_t>{p.stride_h, p.stride_w});
  set_attribute(n, "pads", std::vector<int64_t>{p.pads.top, p.pads.left, p.pads.bottom, p.pads.right});
  if (p.ceil_mode) set_attribute(n, "ceil_mode", int64_t{1});
  return {out, {x.shape[0], x.shape[1], h, w}};
}

OnnxValue OnnxGraphBuilder::average_pool(const OnnxValue& x, const std::string& name, const PoolParams& p,
                                         bool count_include_pad) {
  if (p.ceil_mode) throw Error("ONNX export: average pooling " + name + " with ceil_mode is not supported");
  const int64_t h = window_output_size(x.height(), p.pads.top, p.pads.bottom, p.kernel_h, p.stride_h, 1, false);
  const int64_t w = window_output_size(x.width(), p.pads.left, p.pads.right, p.kernel_w, p.stride_w, 1, false);
  if (h < 1 || w < 1) throw Error("ONNX export: " + name + " gets an input too small (" + shape_string(x.shape) + ")");
  const std::string out = unique(name);
  auto* n = node("AveragePool", out, {x.name}, {out});
  set_attribute(n, "kernel_shape", std::vector<int64_t>{p.kernel_h, p.kernel_w});
  set_attribute(n, "strides", std::vector<int64_t>{p.stride_h, p.stride_w});
  set_attribute(n, "pads", std::vector<int64_t>{p.pads.top, p.pads.left, p.pads.bottom, p.pads.right});
  if (count_include_pad) set_attribute(n, "count_include_pad", int64_t{1});
  return {out, {x.shape[0], x.shape[1], h, w}};
}

OnnxValue OnnxGraphBuilder::resize_nearest(const OnnxValue& x, const std::string& name, int64_t height,
                                           int64_t width) {
  if (height % x.height() != 0 || width % x.width() != 0)
    throw Error("internal: ONNX Resize " + name + " by a fractional factor");
  const std::string out = unique(name);
  const torch::Tensor scales = torch::tensor({1.f, 1.f, float(height / x.height()), float(width / x.width())});
  auto* n = node("Resize", out, {x.name, "", add_initializer(name + ".scales", scales)}, {out});
  auto* mode = n->add_attribute();
  mode->set_name("mode");
  mode->set_type(onnx::AttributeProto::STRING);
  mode->set_s("nearest");
  return {out, {x.shape[0], x.shape[1], height, width}};
}

OnnxValue OnnxGraphBuilder::global_average_pool(const OnnxValue& x, const std::string& name) {
  const std::string out = unique(name);
  node("GlobalAveragePool", out, {x.name}, {out});
  return {out, {x.shape[0], x.shape[1], 1, 1}};
}

OnnxValue OnnxGraphBuilder::flatten(const OnnxValue& x, const std::string& name) {
  const std::string out = unique(name);
  auto* n = node("Flatten", out, {x.name}, {out});
  set_attribute(n, "axis", int64_t{1});
  int64_t features = 1;
  for (size_t i = 1; i < x.shape.size(); ++i) features *= x.shape[i];
  return {out, {x.shape[0], features}};
}

OnnxValue OnnxGraphBuilder::softmax(const OnnxValue& x, const std::string& name) {
  const std::string out = unique(name);
  auto* n = node("Softmax", out, {x.name}, {out});
  set_attribute(n, "axis", int64_t{1});
  return {out, x.shape};
}

OnnxValue OnnxGraphBuilder::broadcast(const std::string& op, const OnnxValue& a, const OnnxValue& b,
                                      const std::string& name) {
  // Numpy broadcasting: shapes aligned on the right, missing leading dimensions are 1.
  const size_t rank = std::max(a.shape.size(), b.shape.size());
  std::vector<int64_t> shape(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.shape.size() ? 1 : a.shape[i - (rank - a.shape.size())];
    const int64_t db = i < rank - b.shape.size() ? 1 : b.shape[i - (rank - b.shape.size())];
    if (da != db && da != 1 && db != 1)
      throw Error("internal: ONNX " + op + " " + name + " of " + shape_string(a.shape) + " and " +
                  shape_string(b.shape));
    shape[i] = da == 1 ? db : da;
  }
  const std::string out = unique(name);
  node(op, out, {a.name, b.name}, {out});
  return {out, shape};
}

OnnxValue OnnxGraphBuilder::add(const OnnxValue& a, const OnnxValue& b, const std::string& name) {
  return broadcast("Add", a, b, name);
}
OnnxValue OnnxGraphBuilder::mul(const OnnxValue& a, const OnnxValue& b, const std::string& name) {
  return broadcast("Mul", a, b, name);
}

OnnxValue OnnxGraphBuilder::mul_constant(const OnnxValue& x, const std::string& name, const torch::Tensor& c) {
  const std::string constant = add_initializer(name + ".scale", c);
  return broadcast("Mul", x, {constant, c.sizes().vec()}, name);
}

OnnxValue OnnxGraphBuilder::add_constant(const OnnxValue& x, const std::string& name, const torch::Tensor& c) {
  const std::string constant = add_initializer(name + ".offset", c);
  return broadcast("Add", x, {constant, c.sizes().vec()}, name);
}

OnnxValue OnnxGraphBuilder::concat(const std::vector<OnnxValue>& xs, const std::string& name, int64_t axis) {
  std::vector<std::string> inputs;
  std::vector<int64_t> shape = xs.at(0).shape;
  shape[axis] = 0;
  for (const auto& x : xs) {
    inputs.push_back(x.name);
    shape[axis] += x.shape.at(axis);
  }
  const std::string out = unique(name);
  auto* n = node("Concat", out, inputs, {out});
  set_attribute(n, "axis", axis);
  return {out, shape};
}

std::vector<OnnxValue> OnnxGraphBuilder::split(const OnnxValue& x, const std::string& name, int64_t axis,
                                               int64_t parts) {
  if (x.shape.at(axis) % parts != 0) throw Error("internal: ONNX Split " + name + " into unequal parts");
  std::vector<std::string> outputs;
  std::vector<OnnxValue> values;
  std::vector<int64_t> shape = x.shape;
  shape[axis] /= parts;
  for (int64_t i = 0; i < parts; ++i) {
    outputs.push_back(unique(name + "_" + std::to_string(i)));
    values.push_back({outputs.back(), shape});
  }
  auto* n = node("Split", unique(name), {x.name}, outputs);
  set_attribute(n, "axis", axis);
  return values;
}

}  // namespace imagefit::onnx_export

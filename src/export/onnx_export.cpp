#include "export/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <sstream>

#include "core/error.h"
#include "export/input_normalization.h"
#include "export/onnx_architectures.h"

namespace imagefit {

using onnx_export::ModuleConverter;
using onnx_export::OnnxGraphBuilder;
using onnx_export::OnnxValue;

namespace {

std::string arch_description(const NetworkSpec& spec) {
  std::ostringstream s;
  s << spec.arch;
  if (spec.backbone.alpha != 1.0) s << " alpha=" << spec.backbone.alpha;
  return s.str();
}

// `input` as 0..255 RGB, then the model's normalization: [BGR reorder,] Mul, Add (per channel).
OnnxValue normalize(OnnxGraphBuilder& b, const OnnxValue& rgb, Normalization normalization) {
  const ChannelNormalization n = channel_normalization(normalization);
  OnnxValue x = rgb;
  if (n.bgr) {
    auto planes = b.split(x, "normalize.split", 1, 3);
    x = b.concat({planes[2], planes[1], planes[0]}, "normalize.bgr", 1);
  }
  auto constant = [](const std::array<float, 3>& v) { return torch::tensor({v[0], v[1], v[2]}).reshape({3, 1, 1}); };
  if (n.scale != std::array<float, 3>{1.f, 1.f, 1.f}) x = b.mul_constant(x, "normalize.mul", constant(n.scale));
  if (n.offset != std::array<float, 3>{0.f, 0.f, 0.f}) x = b.add_constant(x, "normalize.add", constant(n.offset));
  return x;
}

// HeadImpl::forward: pool ("avg": global average; "flatten"), [hidden Linear + ReLU], dropout (omitted), fc.
OnnxValue head(ModuleConverter& c, const OnnxValue& features, const HeadOptions& options) {
  auto& b = c.builder();
  OnnxValue x = options.pooling == "flatten" ? b.flatten(features, "head.flatten")
                                             : b.flatten(b.global_average_pool(features, "head.pool"), "head.pooled");
  if (c.has("head.hidden")) x = b.relu(c.linear(x, "head.hidden"), "head.hidden_relu");
  return c.linear(x, "head.fc");
}

void add_metadata(onnx::ModelProto& model, const std::string& key, const std::string& value) {
  auto* p = model.add_metadata_props();
  p->set_key(key);
  p->set_value(value);
}

// ONNX's own checker and strict shape inference (on a copy: the written graph stays lean), so a
// graph that another runtime would refuse is an error here, not there.
void validate(const onnx::ModelProto& model, const std::vector<OnnxValue>& outputs) {
  try {
    onnx::checker::check_model(model);
    onnx::ModelProto inferred = model;
    onnx::ShapeInferenceOptions options(/*check_type=*/true, /*strict_mode=*/1);
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(), options);
    for (const auto& out : inferred.graph().output()) {
      const auto& dims = out.type().tensor_type().shape().dim();
      for (const auto& expected : outputs) {
        if (expected.name != out.name()) continue;
        bool same = dims.size() == int(expected.shape.size());
        for (int i = 1; same && i < dims.size(); ++i) same = dims[i].dim_value() == expected.shape[i];
        if (!same) throw std::runtime_error("output " + out.name() + " has another shape than expected");
      }
    }
  } catch (const std::exception& e) {
    throw Error(std::string("internal: the exported ONNX graph does not validate: ") + e.what());
  }
}

}  // namespace

std::string onnx_model_bytes(const NetworkSpec& spec, Classifier& network, const ExportOptions& options,
                             ExportSummary* summary) {
  const auto exporter = onnx_export::find_backbone_exporter(spec.arch);
  if (!exporter) {
    std::string covered;
    for (const auto& a : onnx_export::covered_architectures()) covered += (covered.empty() ? "" : ", ") + a;
    throw Error("ONNX export does not cover architecture '" + spec.arch + "' yet (covered: " + covered + ")");
  }
  if (network->backbone()->arch() != spec.arch)
    throw Error("internal: network is a " + network->backbone()->arch() + ", its description says " + spec.arch);
  network->eval();
  torch::NoGradGuard no_grad;

  OnnxGraphBuilder b("imagefit_" + spec.arch);
  ModuleConverter c(b, *network);
  const int64_t s = spec.image_size;
  OnnxValue x = b.add_input("input", {-1, 3, s, s});
  if (options.include_normalization) x = normalize(b, x, spec.normalization);
  const OnnxValue logits = head(c, exporter(c, x, "backbone"), spec.head);
  if (logits.shape.size() != 2 || logits.shape[1] != int64_t(spec.classes.size()))
    throw Error("internal: ONNX export of " + spec.arch + " ends in the wrong shape");

  std::vector<OnnxValue> outputs;
  if (options.outputs != ExportOutputs::Logits) {
    // Calibrated as imagefit shows them: softmax(logits / T).
    const OnnxValue scaled = options.temperature == 1.0
                                 ? logits
                                 : b.mul_constant(logits, "temperature", torch::tensor({float(1.0 / options.temperature)}));
    outputs.push_back(b.softmax(scaled, "softmax"));
  }
  if (options.outputs != ExportOutputs::Probabilities) outputs.push_back(logits);
  if (options.outputs != ExportOutputs::Logits) outputs[0] = b.add_output(outputs[0], "probabilities");
  if (options.outputs != ExportOutputs::Probabilities) outputs.back() = b.add_output(outputs.back(), "logits");

  auto& model = b.model();
  const std::string input_kind = options.include_normalization
                                     ? "RGB 0..255 (normalization " + normalization_formula(spec.normalization) +
                                           " inside the graph)"
                                     : "normalized: " + normalization_formula(spec.normalization);
  model.set_doc_string("imagefit " + arch_description(spec) + " classifier. Input `input`: N x 3 x " +
                       std::to_string(s) + " x " + std::to_string(s) + " float, RGB planes, " + input_kind +
                       ". Classes in output order are in metadata `imagefit.classes`.");
  add_metadata(model, "imagefit.arch", spec.arch);
  add_metadata(model, "imagefit.alpha", nlohmann::json(spec.backbone.alpha).dump());
  add_metadata(model, "imagefit.image_size", std::to_string(s));
  add_metadata(model, "imagefit.normalization", to_string(spec.normalization));
  add_metadata(model, "imagefit.input", options.include_normalization ? "rgb_0_255" : "normalized");
  add_metadata(model, "imagefit.classes", nlohmann::json(spec.classes).dump());
  add_metadata(model, "imagefit.temperature", nlohmann::json(options.temperature).dump());
  validate(model, outputs);

  if (summary) {
    summary->format = "ONNX opset " + std::to_string(onnx_export::kOpset);
    summary->arch = arch_description(spec);
    summary->input_names = {"input"};
    summary->output_names.clear();
    for (const auto& o : outputs) summary->output_names.push_back(o.name);
    summary->input_shape = {-1, 3, s, s};
    summary->input_description = "N x 3 x " + std::to_string(s) + " x " + std::to_string(s) + " float, " + input_kind;
    summary->nodes = b.node_count();
    summary->parameters = 0;
    for (const auto& p : network->parameters()) summary->parameters += p.numel();
    summary->classes = spec.classes;
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw Error("internal: cannot serialize the ONNX model");
  return bytes;
}

}  // namespace imagefit

#include "export/torchscript_export.h"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/script.h>

#include <map>
#include <sstream>

#include "core/error.h"
#include "export/input_normalization.h"
#include "models/script_mirror.h"

namespace imagefit {

void write_torchscript(const NetworkSpec& spec, Classifier& network, const ExportOptions& options, std::ostream& out,
                       ExportSummary* summary) {
  network->eval();
  network->to(torch::kCPU);
  torch::NoGradGuard no_grad;
  ScriptModuleMirror mirror(*network, "__torch__.imagefit.ImagefitClassifier");
  torch::jit::Module& script = mirror.root();

  const ChannelNormalization norm = channel_normalization(spec.normalization);
  const auto channel_constant = [](const std::array<float, 3>& v) {
    return torch::tensor({v[0], v[1], v[2]}).reshape({1, 3, 1, 1});
  };
  const torch::Tensor scale = channel_constant(norm.scale), offset = channel_constant(norm.offset);
  auto forward = [&](torch::jit::Stack inputs) -> torch::jit::Stack {
    torch::Tensor x = inputs.at(0).toTensor();
    if (options.include_normalization) {
      if (norm.bgr) x = x.flip({1});
      x = x * scale + offset;
    }
    const torch::Tensor logits = network->forward(x);
    // Calibrated as imagefit shows them: softmax(logits / T).
    const auto probabilities = [&] {
      return torch::softmax(options.temperature == 1.0 ? logits : logits / options.temperature, 1);
    };
    switch (options.outputs) {
      case ExportOutputs::Probabilities: return {probabilities()};
      case ExportOutputs::Logits: return {logits};
      case ExportOutputs::Both: return {c10::ivalue::Tuple::create({probabilities(), logits})};
    }
    return {logits};
  };
  const int64_t s = spec.image_size;
  const torch::Tensor example =
      options.include_normalization ? torch::rand({2, 3, s, s}) * 255 : torch::randn({2, 3, s, s});
  std::shared_ptr<torch::jit::Graph> graph;
  try {
    auto traced = torch::jit::tracer::trace({example}, forward, [](const torch::autograd::Variable&) { return ""; },
                                            /*strict=*/true, /*force_outplace=*/false, &script, {"input"});
    graph = traced.first->graph;
  } catch (const std::exception& e) {
    throw Error("TorchScript export of " + spec.arch + ": tracing failed: " + e.what());
  }
  auto method = script._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*script.type()->name(), "forward"), graph);
  script.type()->addMethod(method);

  nlohmann::json info = spec_to_json(spec);
  info["input"] = options.include_normalization ? "rgb_0_255" : "normalized";
  info["outputs"] = to_string(options.outputs);
  info["temperature"] = options.temperature;
  torch::jit::ExtraFilesMap extra{{"imagefit.json", info.dump(2)}};
  script.save(out, extra);

  if (summary) {
    summary->format = "TorchScript";
    std::ostringstream arch;
    arch << spec.arch;
    if (spec.backbone.alpha != 1.0) arch << " alpha=" << spec.backbone.alpha;
    summary->arch = arch.str();
    summary->input_names = {"input"};
    if (options.outputs == ExportOutputs::Both) {
      summary->output_names = {"(probabilities, logits)"};
    } else {
      summary->output_names = {to_string(options.outputs)};
    }
    summary->input_shape = {-1, 3, s, s};
    summary->input_description =
        "N x 3 x " + std::to_string(s) + " x " + std::to_string(s) + " float, " +
        (options.include_normalization
             ? "RGB 0..255 (normalization " + normalization_formula(spec.normalization) + " inside)"
             : "normalized: " + normalization_formula(spec.normalization));
    summary->nodes = 0;
    summary->parameters = 0;
    for (const auto& p : network->parameters()) summary->parameters += p.numel();
    summary->classes = spec.classes;
  }
}

}  // namespace imagefit

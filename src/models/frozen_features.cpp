#include "models/frozen_features.h"

#include <torch/csrc/jit/frontend/tracer.h>

#include <cstdio>

#include "models/script_mirror.h"

namespace imagefit {

FrozenFeatures::FrozenFeatures(Classifier network, int64_t image_size, Precision precision, size_t stages_end,
                               size_t stages_begin)
    : network_(std::move(network)), precision_(precision), stages_end_(stages_end), stages_begin_(stages_begin) {
  const size_t n_stages = network_->backbone()->stages().size();
  if (stages_end_ >= n_stages) stages_end_ = size_t(-1);
  if (stages_begin_ >= n_stages) throw std::invalid_argument("FrozenFeatures: stages_begin past the last stage");
  try {
    torch::NoGradGuard no_grad;
    network_->eval();
    auto backbone = network_->backbone();
    ScriptModuleMirror mirror(*backbone, "__torch__.imagefit.FrozenBackbone");
    torch::jit::Module& script = mirror.root();
    auto forward = [&](torch::jit::Stack inputs) -> torch::jit::Stack {
      return {eager(inputs.at(0).toTensor())};
    };
    const auto device = backbone->parameters().empty() ? torch::Device(torch::kCPU) : backbone->parameters()[0].device();
    // Batch 2 so that nothing batch-size specific is recorded; sizes are fixed by the image size.
    torch::Tensor example = torch::randn({2, 3, image_size, image_size}, torch::TensorOptions().device(device));
    if (stages_begin_ > 0) example = network_->run_stages(example, 0, stages_begin_);
    auto traced = torch::jit::tracer::trace({example}, forward, [](const torch::autograd::Variable&) { return ""; },
                                            /*strict=*/true, /*force_outplace=*/false, &script, {"input"});
    auto method = script._ivalue()->compilation_unit()->create_function(
        c10::QualifiedName(*script.type()->name(), "forward"), traced.first->graph);
    script.type()->addMethod(method);
    script.eval();
    graph_ = torch::jit::freeze(script);
    frozen_ = true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "note: running the backbone without graph optimizations (%s)\n", e.what());
  }
}

torch::Tensor FrozenFeatures::eager(const torch::Tensor& x) {
  if (stages_begin_ == 0 && stages_end_ == size_t(-1)) return network_->features(x);
  const size_t end = stages_end_ == size_t(-1) ? network_->backbone()->stages().size() : stages_end_;
  return network_->run_stages(x, stages_begin_, end);
}

torch::Tensor FrozenFeatures::operator()(const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  AutocastScope autocast(precision_, x.is_cuda());
  auto out = frozen_ ? graph_.forward({x}).toTensor() : eager(x);
  return out.scalar_type() == torch::kFloat ? out : out.to(torch::kFloat);
}

int FrozenFeatures::count_nodes(const std::string& kind) const {
  if (!frozen_) return -1;
  int n = 0;
  for (const auto* node : graph_.get_method("forward").graph()->nodes())
    if (node->kind().toQualString() == kind) ++n;
  return n;
}

torch::Tensor FrozenFeatures::logits(const torch::Tensor& x) { return network_->head()->forward((*this)(x)); }

}  // namespace imagefit

#include "eval/parameter_counts.h"

#include <algorithm>

#include "core/text.h"
#include "train/phases.h"

namespace imagefit {

namespace {
int64_t numel(const std::vector<torch::Tensor>& tensors) {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}
}  // namespace

ParameterCounts count_parameters(Classifier& network, const nlohmann::json& training) {
  ParameterCounts p;
  Backbone backbone = network->backbone();
  p.backbone = numel(backbone->parameters());
  p.head = numel(network->head()->parameters());
  p.total = p.backbone + p.head;
  p.backbone_stages = int(backbone->stages().size());
  const std::string strategy = training.is_object() ? training.value("strategy", std::string()) : std::string();
  // "auto: fine-tune" is what auto decided.
  const auto is = [&](const std::string& s) { return strategy == s || strategy == "auto: " + s; };
  if (is("scratch")) {
    p.trained = p.total;
    p.trained_what = "all";
  } else if (is("feature-extract")) {
    p.trained = p.head;
    p.trained_what = "the head";
  } else if (is("fine-tune") && training.contains("unfrozen_stages") && training["unfrozen_stages"].is_number_integer()) {
    const int n = std::clamp(training["unfrozen_stages"].get<int>(), 0, p.backbone_stages);
    // unfreeze_last_stages marks what trains; the flags are put back as they were.
    std::vector<std::pair<torch::Tensor, bool>> flags;
    for (auto& t : backbone->parameters()) flags.emplace_back(t, t.requires_grad());
    p.trained = p.head + numel(unfreeze_last_stages(backbone, n));
    for (auto& [t, on] : flags) t.set_requires_grad(on);
    p.trained_what = n == p.backbone_stages ? "all" : "the head and the last " + std::to_string(n) + " of " +
                                                          plural(p.backbone_stages, "backbone stage");
  }
  return p;
}

std::string parameters_text(const ParameterCounts& p) {
  return with_commas(p.total) + " (backbone " + with_commas(p.backbone) +
         (p.backbone_stages > 0 ? " in " + plural(p.backbone_stages, "stage") : std::string()) + ", head " +
         with_commas(p.head) + ")";
}

std::string trained_text(const ParameterCounts& p) {
  if (p.trained < 0) return "";
  if (p.trained == p.total) return "all of them";
  return with_commas(p.trained) + " of them (" + p.trained_what + ")";
}

nlohmann::json parameters_json(const ParameterCounts& p) {
  nlohmann::json j = {{"total", p.total}, {"backbone", p.backbone}, {"head", p.head}, {"backbone_stages", p.backbone_stages}};
  if (p.trained >= 0) {
    j["trained"] = p.trained;
    j["trained_what"] = p.trained_what;
  }
  return j;
}

}  // namespace imagefit

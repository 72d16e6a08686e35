#include "train/optimizer.h"

#include "core/error.h"

namespace imagefit {



namespace {
template <typename Options>
std::vector<torch::optim::OptimizerParamGroup> make_groups(const std::vector<std::vector<torch::Tensor>>& groups,
                                                          const std::vector<double>& lrs, const Options& base) {
  std::vector<torch::optim::OptimizerParamGroup> out;
  for (size_t i = 0; i < groups.size(); ++i) {
    auto opts = std::make_unique<Options>(base);
    opts->lr(lrs[i]);
    out.emplace_back(groups[i], std::move(opts));
  }
  return out;
}
}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerSpec& spec,
                                                        const std::vector<std::vector<torch::Tensor>>& groups,
                                                        const std::vector<double>& lrs) {
  const double lr = lrs.empty() ? default_learning_rate(spec.name) : lrs[0];
  if (spec.name == OptimizerName::RMSprop) {
    // Keras RMSprop defaults: rho 0.9, epsilon 1e-7 (PyTorch's are 0.99 and 1e-8).
    auto base = torch::optim::RMSpropOptions(lr).alpha(0.9).eps(1e-7).weight_decay(spec.weight_decay);
    return std::make_unique<torch::optim::RMSprop>(make_groups(groups, lrs, base), base);
  }
  if (spec.name == OptimizerName::Adam) {
    auto base = torch::optim::AdamOptions(lr).eps(1e-7).weight_decay(spec.weight_decay);
    return std::make_unique<torch::optim::Adam>(make_groups(groups, lrs, base), base);
  }
  if (spec.name == OptimizerName::AdamW) {
    auto base = torch::optim::AdamWOptions(lr).weight_decay(spec.weight_decay > 0 ? spec.weight_decay : 0.01);
    return std::make_unique<torch::optim::AdamW>(make_groups(groups, lrs, base), base);
  }
  if (spec.name == OptimizerName::SGD) {
    auto base = torch::optim::SGDOptions(lr).momentum(spec.momentum).weight_decay(spec.weight_decay);
    return std::make_unique<torch::optim::SGD>(make_groups(groups, lrs, base), base);
  }
  throw Error("no optimizer chosen (the plan resolves --optimizer before training)");
}

void set_learning_rates(torch::optim::Optimizer& opt, const std::vector<double>& lrs) {
  auto& groups = opt.param_groups();
  for (size_t i = 0; i < groups.size() && i < lrs.size(); ++i) groups[i].options().set_lr(lrs[i]);
}

}  // namespace imagefit

#pragma once
// Optimizers by Keras/PyTorch name, with Keras's defaults where users expect them.
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "train/options.h"

namespace imagefit {

struct OptimizerSpec {
  OptimizerName name = OptimizerName::RMSprop;  // resolved: never Default
  double weight_decay = 0;
  double momentum = 0.9;
};

// One parameter group a list, each with its own learning rate (discriminative fine-tuning).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerSpec& spec,
                                                        const std::vector<std::vector<torch::Tensor>>& groups,
                                                        const std::vector<double>& lrs);
void set_learning_rates(torch::optim::Optimizer& opt, const std::vector<double>& lrs);

}  // namespace imagefit

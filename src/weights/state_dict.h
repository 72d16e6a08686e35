#pragma once
// Named tensors, as in a PyTorch state_dict, and strict loading into a module.
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace imagefit {

// Ordered (name, tensor) pairs; names use the module's dotted parameter/buffer names.
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

// All parameters and buffers of `module` in registration order.
StateDict state_dict_of(torch::nn::Module& module);

// Copies `weights` into `module` strictly: every tensor in `weights` must be used, every
// parameter and buffer filled, and shapes equal. BatchNorm's `num_batches_tracked` may be absent.
// Otherwise throws Error naming `source` and listing the names that did not match.
void load_state_dict(torch::nn::Module& module, const StateDict& weights, const std::string& source);

}  // namespace imagefit

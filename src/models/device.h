#pragma once
// --device names to torch devices: cpu, cuda, cuda:N, or auto (CUDA when available).
#include <torch/torch.h>

#include <string>

namespace imagefit {

torch::Device resolve_device(const std::string& name);

}  // namespace imagefit

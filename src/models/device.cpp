#include "models/device.h"

#include "core/error.h"

namespace imagefit {

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw Error("--device " + name + ": not a device (cpu, cuda, cuda:N, auto)");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw Error("--device " + name + ": this LibTorch build has no CUDA support or no GPU is visible");
  return device;
}

}  // namespace imagefit

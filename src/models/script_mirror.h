#pragma once
// A torch::jit::Module holding the same tensors as a C++ frontend module (shared, not copied) under
// the same nested names, so the tracer records parameter reads as attribute reads instead of
// constants. Used by TorchScript export and by the frozen inference graph.
#include <torch/script.h>

#include <map>
#include <string>
#include <utility>

namespace imagefit {

class ScriptModuleMirror {
 public:
  ScriptModuleMirror(torch::nn::Module& network, const std::string& type_name);
  torch::jit::Module& root() { return root_; }

 private:
  torch::jit::Module& module(const std::string& path);

  torch::jit::Module root_;
  std::map<std::string, torch::jit::Module> submodules_;
};

}  // namespace imagefit

#include "models/script_mirror.h"

namespace imagefit {

namespace {
std::pair<std::string, std::string> split(const std::string& name) {
  const auto dot = name.rfind('.');
  if (dot == std::string::npos) return {"", name};
  return {name.substr(0, dot), name.substr(dot + 1)};
}
}  // namespace

ScriptModuleMirror::ScriptModuleMirror(torch::nn::Module& network, const std::string& type_name) : root_(type_name) {
  for (const auto& p : network.named_parameters()) {
    const auto [owner, leaf] = split(p.key());
    module(owner).register_parameter(leaf, p.value(), /*is_buffer=*/false);
  }
  for (const auto& b : network.named_buffers()) {
    const auto [owner, leaf] = split(b.key());
    module(owner).register_buffer(leaf, b.value());
  }
}

torch::jit::Module& ScriptModuleMirror::module(const std::string& path) {
  if (path.empty()) return root_;
  auto it = submodules_.find(path);
  if (it != submodules_.end()) return it->second;
  const auto [parent, leaf] = split(path);
  std::string type = path;
  for (char& ch : type)
    if (ch == '.') ch = '_';
  torch::jit::Module child(root_.type()->name()->qualifiedName() + "_" + type);
  module(parent).register_module(leaf, child);
  return submodules_.emplace(path, child).first->second;
}

}  // namespace imagefit

#include "weights/state_dict.h"

#include <map>
#include <sstream>

#include "core/error.h"

namespace imagefit {

StateDict state_dict_of(torch::nn::Module& module) {
  StateDict out;
  for (auto& p : module.named_parameters(/*recurse=*/true)) out.emplace_back(p.key(), p.value());
  for (auto& b : module.named_buffers(/*recurse=*/true)) out.emplace_back(b.key(), b.value());
  return out;
}

namespace {
std::string shape_str(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}
bool optional_name(const std::string& name) {
  const std::string suffix = "num_batches_tracked";
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}
std::string list(const std::vector<std::string>& names, size_t max = 12) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < max; ++i) s += "\n    " + names[i];
  if (names.size() > max) s += "\n    ... and " + std::to_string(names.size() - max) + " more";
  return s;
}
}  // namespace

void load_state_dict(torch::nn::Module& module, const StateDict& weights, const std::string& source) {
  std::map<std::string, torch::Tensor> given;
  for (auto& [k, v] : weights) given[k] = v;
  std::vector<std::string> missing, mismatched;
  std::map<std::string, bool> used;
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : state_dict_of(module)) {
    auto it = given.find(name);
    if (it == given.end()) {
      if (!optional_name(name)) missing.push_back(name);
      continue;
    }
    used[name] = true;
    if (!it->second.sizes().equals(target.sizes())) {
      mismatched.push_back(name + " (file " + shape_str(it->second) + ", model " + shape_str(target) + ")");
      continue;
    }
    target.copy_(it->second.to(target.dtype()).to(target.device()));
  }
  std::vector<std::string> unexpected;
  for (auto& [k, v] : given)
    if (!used.count(k)) unexpected.push_back(k);
  if (missing.empty() && mismatched.empty() && unexpected.empty()) return;
  std::string msg = source + ": weights do not match the architecture";
  if (!mismatched.empty()) msg += "\n  shape mismatch (" + std::to_string(mismatched.size()) + "):" + list(mismatched);
  if (!missing.empty()) msg += "\n  missing from the file (" + std::to_string(missing.size()) + "):" + list(missing);
  if (!unexpected.empty()) msg += "\n  not used by the model (" + std::to_string(unexpected.size()) + "):" + list(unexpected);
  throw Error(msg);
}

}  // namespace imagefit

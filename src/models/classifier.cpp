#include "models/classifier.h"

namespace imagefit {

bool prefers_channels_last(const std::string& arch) {
  return arch.find("mobilenet") != std::string::npos || arch.find("efficientnet") != std::string::npos;
}

ClassifierImpl::ClassifierImpl(Backbone backbone, const HeadOptions& head) {
  backbone_ = register_module("backbone", std::move(backbone));
  head_ = register_module("head", Head(head));
  channels_last_ = prefers_channels_last(backbone_->arch());
  if (channels_last_) {
    // Loading weights later copies into these tensors and keeps their layout; saving makes them
    // contiguous again, so files do not depend on it.
    torch::NoGradGuard no_grad;
    for (auto& p : backbone_->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  }
}

torch::Tensor ClassifierImpl::features(torch::Tensor x) {
  if (channels_last_ && x.dim() == 4) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  return backbone_->forward(x);
}

torch::Tensor ClassifierImpl::run_stages(torch::Tensor x, size_t first, size_t last) {
  if (channels_last_ && x.dim() == 4) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  return backbone_->run_stages(x, first, last);
}

torch::Tensor ClassifierImpl::forward(torch::Tensor x) { return head_->forward(features(x)); }

}  // namespace imagefit

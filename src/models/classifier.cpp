#include "models/classifier.h"

namespace imagefit {

ClassifierImpl::ClassifierImpl(Backbone backbone, const HeadOptions& head) {
  backbone_ = register_module("backbone", std::move(backbone));
  head_ = register_module("head", Head(head));
}

torch::Tensor ClassifierImpl::forward(torch::Tensor x) { return head_->forward(backbone_->forward(x)); }

}  // namespace imagefit

#include "models/head.h"

namespace imagefit {

HeadImpl::HeadImpl(const HeadOptions& options) : options_(options) {
  int64_t in = options.in_features;
  if (options.hidden > 0) {
    hidden_ = register_module("hidden", torch::nn::Linear(in, options.hidden));
    in = options.hidden;
  }
  dropout_ = register_module("dropout", torch::nn::Dropout(options.dropout));
  fc_ = register_module("fc", torch::nn::Linear(in, options.classes));
}

torch::Tensor HeadImpl::pool(torch::Tensor x) {
  if (options_.pooling == "flatten") return x.flatten(1);
  return x.mean({2, 3});
}

torch::Tensor HeadImpl::classify(torch::Tensor x) {
  if (hidden_) x = torch::relu(hidden_->forward(x));
  return fc_->forward(dropout_->forward(x));
}

torch::Tensor HeadImpl::forward(torch::Tensor x) { return classify(pool(x)); }

void HeadImpl::set_dropout(double p) {
  options_.dropout = p;
  dropout_->options.p(p);
}

}  // namespace imagefit

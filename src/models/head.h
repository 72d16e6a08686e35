#pragma once
// Classifier head on a feature map: pooling → optional hidden layer → dropout → dense logits.
#include <torch/torch.h>

#include <string>

namespace imagefit {

struct HeadOptions {
  std::string pooling = "avg";  // "avg" (global average, transfer learning) or "flatten" (simple-cnn)
  int64_t in_features = 0;      // channels (avg) or C·h·w (flatten)
  int64_t hidden = 0;           // 0: no hidden layer; else Dense(hidden, relu) as in the InceptionV3 recipe
  double dropout = 0.5;
  int64_t classes = 2;
};

class HeadImpl : public torch::nn::Module {
 public:
  explicit HeadImpl(const HeadOptions& options);
  torch::Tensor forward(torch::Tensor feature_map);  // N×C×h×w → N×classes logits
  torch::Tensor pool(torch::Tensor feature_map);     // N×C×h×w → N×in_features
  torch::Tensor classify(torch::Tensor pooled);      // N×in_features → logits
  const HeadOptions& options() const { return options_; }
  // Changes the dropout probability (no parameters depend on it).
  void set_dropout(double p);

 private:
  HeadOptions options_;
  torch::nn::Linear hidden_{nullptr}, fc_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(Head);

}  // namespace imagefit

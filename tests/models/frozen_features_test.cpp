// The frozen inference graph computes what the module computes, with BatchNorm folded away, for
// any batch size.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/classifier.h"
#include "models/frozen_features.h"
#include "models/registry.h"

namespace imagefit {
namespace {

void check(const std::string& arch, double alpha, int size) {
  SCOPED_TRACE(arch);
  torch::manual_seed(7);
  BackboneOptions options;
  options.alpha = alpha;
  options.image_size = size;
  Backbone backbone = make_backbone(arch, options);
  // Non-trivial BatchNorm statistics, so that folding them wrong would show.
  {
    torch::NoGradGuard no_grad;
    for (auto& b : backbone->named_buffers()) {
      if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-0.2, 0.2);
      if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 1.5);
    }
  }
  HeadOptions head;
  head.in_features = backbone->feature_channels();
  head.classes = 3;
  Classifier net(backbone, head);
  net->eval();
  FrozenFeatures frozen(net, size);
  ASSERT_TRUE(frozen.frozen());
  EXPECT_EQ(frozen.count_nodes("aten::batch_norm"), 0) << "BatchNorm was not folded into the convolutions";
  torch::NoGradGuard no_grad;
  for (int batch : {1, 3, 5}) {
    auto x = torch::randn({batch, 3, size, size});
    auto expected = net->features(x), got = frozen(x);
    ASSERT_EQ(got.sizes(), expected.sizes());
    const double scale = std::max(1.0, expected.abs().max().item<double>());
    EXPECT_LE((got - expected).abs().max().item<double>(), 1e-4 * scale) << "batch " << batch;
    EXPECT_LE((frozen.logits(x) - net->forward(x)).abs().max().item<double>(), 1e-4 * scale) << "batch " << batch;
  }
}

TEST(FrozenFeatures, KerasMobileNetV2EqualsTheModule) { check("keras-mobilenet-v2", 0.35, 96); }
TEST(FrozenFeatures, KerasMobileNetV1EqualsTheModule) { check("keras-mobilenet-v1", 0.25, 96); }
TEST(FrozenFeatures, ResNet18EqualsTheModule) { check("resnet18", 1.0, 64); }
TEST(FrozenFeatures, MobileNetV3SmallEqualsTheModule) { check("mobilenet_v3_small", 1.0, 64); }

}  // namespace
}  // namespace imagefit

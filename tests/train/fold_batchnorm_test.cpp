// Folding inference-mode BatchNorm scales into the convolutions before fine-tuning leaves the
// function unchanged, for every architecture, and makes each folded BatchNorm a plain bias.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/classifier.h"
#include "models/registry.h"
#include "train/phases.h"

namespace imagefit {
namespace {

TEST(FoldBatchNorm, SameFunctionForEveryArchitecture) {
  torch::NoGradGuard no_grad;
  for (const auto& [arch, alpha] : std::vector<std::pair<std::string, double>>{{"keras-mobilenet-v1", 0.25},
                                                                               {"keras-mobilenet-v2", 0.35},
                                                                               {"mobilenet_v2", 0.5},
                                                                               {"mobilenet_v3_small", 1.0},
                                                                               {"resnet18", 1.0},
                                                                               {"efficientnet_b0", 1.0}}) {
    SCOPED_TRACE(arch);
    torch::manual_seed(5);
    BackboneOptions options;
    options.alpha = alpha;
    Backbone backbone = make_backbone(arch, options);
    // Running statistics far from 0/1, and scales as uneven as in ImageNet MobileNets.
    for (auto& b : backbone->named_buffers()) {
      if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-0.5, 0.5);
      if (b.key().find("running_var") != std::string::npos) b.value().uniform_(1e-3, 2.0);
    }
    for (auto& p : backbone->named_parameters())
      if (p.key().find("bn") != std::string::npos || p.key().find("BN") != std::string::npos) p.value().uniform_(0.5, 1.5);
    HeadOptions head;
    head.in_features = backbone->feature_channels();
    head.classes = 4;
    Classifier net(backbone, head);
    net->eval();
    auto x = torch::randn({2, 3, 64, 64});
    auto before = net->forward(x);
    const int folded = fold_batchnorm_scales(*net->backbone());
    EXPECT_GT(folded, 0);
    auto after = net->forward(x);
    const double scale = std::max(1.0, before.abs().max().item<double>());
    EXPECT_LT((after - before).abs().max().item<double>(), 1e-4 * scale);
    // Folding twice is folding once (each BatchNorm is now the identity plus a bias).
    fold_batchnorm_scales(*net->backbone());
    EXPECT_LT((net->forward(x) - before).abs().max().item<double>(), 1e-4 * scale);
    std::printf("[ measured ] %s: %d BatchNorm layers folded\n", arch.c_str(), folded);
  }
}

}  // namespace
}  // namespace imagefit

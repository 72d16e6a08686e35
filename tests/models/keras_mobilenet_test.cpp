// Structure of the Keras-layout backbones, without weights: names, widths, output sizes, stages.
#include <gtest/gtest.h>

#include "core/error.h"
#include "models/keras_mobilenet_v1.h"
#include "models/keras_mobilenet_v2.h"
#include "models/keras_ops.h"
#include "models/registry.h"

namespace imagefit {
namespace {

// Parameters + buffers as Keras counts them ("Total params": moving statistics included).
int64_t keras_param_count(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.named_parameters()) n += p.value().numel();
  for (const auto& b : m.named_buffers())
    if (b.key().find("num_batches_tracked") == std::string::npos) n += b.value().numel();
  return n;
}

std::vector<int64_t> output_shape(BackboneImpl& b, int64_t h, int64_t w) {
  torch::NoGradGuard no_grad;
  b.eval();
  return b.forward(torch::zeros({1, 3, h, w})).sizes().vec();
}

// backbone.h: a parameter belongs to the last stage whose prefix its name starts with. Every
// parameter and buffer must belong to one, stages must follow the network's order and none may be
// empty; and opening the last N stages (the trainer's rule: starts with any open prefix) must open
// exactly the parameters of those N stages.
void expect_stages_partition(BackboneImpl& b) {
  const auto stages = b.stages();
  ASSERT_FALSE(stages.empty());
  auto stage_of = [&](const std::string& name) {
    int found = -1;
    for (size_t i = 0; i < stages.size(); ++i)
      if (name.rfind(stages[i], 0) == 0) found = static_cast<int>(i);
    return found;
  };
  std::vector<int> owned(stages.size(), 0);
  int last_stage = 0;
  std::vector<std::pair<std::string, int>> params;
  for (const auto& p : b.named_parameters()) {
    const int s = stage_of(p.key());
    ASSERT_GE(s, 0) << p.key() << " is in no stage";
    EXPECT_GE(s, last_stage) << p.key() << " comes before its stage's predecessor";
    last_stage = std::max(last_stage, s);
    ++owned[s];
    params.emplace_back(p.key(), s);
  }
  for (size_t i = 0; i < stages.size(); ++i) EXPECT_GT(owned[i], 0) << "stage " << stages[i] << " holds nothing";
  for (const auto& p : b.named_buffers()) EXPECT_GE(stage_of(p.key()), 0) << p.key();
  for (size_t n = 0; n <= stages.size(); ++n) {
    const size_t first_open = stages.size() - n;
    for (const auto& [name, s] : params) {
      bool open = false;
      for (size_t i = first_open; i < stages.size(); ++i) open = open || name.rfind(stages[i], 0) == 0;
      EXPECT_EQ(open, static_cast<size_t>(s) >= first_open) << name << " with the last " << n << " stages open";
    }
  }
}

TEST(KerasOps, MakeDivisibleMatchesKeras) {
  // Values from keras.applications' _make_divisible: max(8, int(v + 4) // 8 * 8), +8 if below 0.9 v.
  EXPECT_EQ(keras::make_divisible(32 * 0.35), 16);  // 11.2 → 8 is below 0.9·11.2, so 16
  EXPECT_EQ(keras::make_divisible(5), 8);
  EXPECT_EQ(keras::make_divisible(112), 112);
  EXPECT_EQ(keras::make_divisible(115), 112);
  EXPECT_EQ(keras::make_divisible(1280 * 1.4), 1792);
}

TEST(KerasOps, SamePaddingPutsTheExtraPixelBottomRight) {
  const auto x = torch::ones({1, 1, 4, 5});
  const auto p = keras::pad_same(x, 3, 2);  // 4 → 1 extra row at the bottom; 5 → one each side
  ASSERT_EQ(p.sizes().vec(), (std::vector<int64_t>{1, 1, 5, 7}));
  EXPECT_EQ(p[0][0][0].sum().item<float>(), 5.f);  // top row is data
  EXPECT_EQ(p[0][0][4].sum().item<float>(), 0.f);  // bottom row is padding
  EXPECT_EQ(p[0][0].select(1, 0).sum().item<float>(), 0.f);
  EXPECT_EQ(p[0][0].select(1, 6).sum().item<float>(), 0.f);
}

TEST(KerasMobileNetV2, KerasNamesAndWidths) {
  KerasMobileNetV2Impl m(0.35);
  const auto params = m.named_parameters();
  for (const char* name : {"Conv1.weight", "bn_Conv1.weight", "expanded_conv_depthwise.weight",
                           "expanded_conv_depthwise_BN.bias", "expanded_conv_project.weight", "block_1_expand.weight",
                           "block_1_expand_BN.weight", "block_16_project_BN.bias", "Conv_1.weight", "Conv_1_bn.weight"})
    EXPECT_TRUE(params.contains(name)) << name;
  EXPECT_FALSE(params.contains("expanded_conv_expand.weight"));  // Keras's block 0 has no expansion
  EXPECT_FALSE(params.contains("block_17_expand.weight"));
  EXPECT_FALSE(params.contains("Conv1.bias"));
  EXPECT_EQ(m.feature_channels(), 1280);
  EXPECT_EQ(params["Conv1.weight"].sizes().vec(), (std::vector<int64_t>{16, 3, 3, 3}));
  EXPECT_EQ(params["block_16_project.weight"].size(0), 112);
  // Every convolution's width is the one conv_widths (used by the loader to recognise alpha) gives.
  for (const auto& [layer, width] : KerasMobileNetV2Impl::conv_widths(0.35))
    EXPECT_EQ(params[layer + ".weight"].size(0), width) << layer;
  EXPECT_EQ(KerasMobileNetV2Impl::conv_widths(0.35).size(), 52u);
  // BatchNorm: Keras's epsilon.
  auto* bn = m.named_modules("", /*include_self=*/false)["bn_Conv1"]->as<torch::nn::BatchNorm2dImpl>();
  ASSERT_NE(bn, nullptr);
  EXPECT_DOUBLE_EQ(bn->options.eps(), 1e-3);
}

TEST(KerasMobileNetV2, ParameterCountsOfKerasApplications) {
  // Keras's model.summary() "Total params" of MobileNetV2(include_top=False); the 0.35 one is the
  // backbone of ../shared's Teachable Machine file (410,208 in shared/README.md).
  KerasMobileNetV2Impl a035(0.35), a100(1.0), a140(1.4);
  EXPECT_EQ(keras_param_count(a035), 410208);
  EXPECT_EQ(keras_param_count(a100), 2257984);
  EXPECT_EQ(a140.feature_channels(), 1792);  // alpha > 1 widens the last convolution too
}

TEST(KerasMobileNetV2, OutputSizeIsCeilOfInputOver32) {
  KerasMobileNetV2Impl m(0.35);
  EXPECT_EQ(output_shape(m, 224, 224), (std::vector<int64_t>{1, 1280, 7, 7}));
  EXPECT_EQ(output_shape(m, 160, 160), (std::vector<int64_t>{1, 1280, 5, 5}));
  EXPECT_EQ(output_shape(m, 225, 97), (std::vector<int64_t>{1, 1280, 8, 4}));  // TF "same": ceil(n / 32)
}

TEST(KerasMobileNetV2, StagesPartitionTheParameters) {
  KerasMobileNetV2Impl m(0.5);
  const auto stages = m.stages();
  ASSERT_EQ(stages.size(), 20u);  // stem convolution and its BatchNorm, 17 blocks, last convolution
  EXPECT_EQ(stages[0], "Conv1");
  EXPECT_EQ(stages[2], "expanded_conv_");
  EXPECT_EQ(stages[18], "block_16_");
  EXPECT_EQ(stages.back(), "Conv_1");
  expect_stages_partition(m);
}

TEST(KerasMobileNetV2, RejectsNonPositiveAlpha) {
  EXPECT_THROW(KerasMobileNetV2Impl(0.0), Error);
  EXPECT_THROW(KerasMobileNetV2Impl(-1.0), Error);
}

TEST(KerasMobileNetV1, KerasNamesWidthsAndCounts) {
  KerasMobileNetV1Impl m(0.25);
  const auto params = m.named_parameters();
  for (const char* name : {"conv1.weight", "conv1_bn.weight", "conv_dw_1.weight", "conv_dw_1_bn.bias",
                           "conv_pw_1.weight", "conv_pw_13.weight", "conv_pw_13_bn.weight"})
    EXPECT_TRUE(params.contains(name)) << name;
  EXPECT_FALSE(params.contains("conv_dw_14.weight"));
  EXPECT_EQ(m.feature_channels(), 256);
  EXPECT_EQ(params["conv_dw_2.weight"].sizes().vec(), (std::vector<int64_t>{16, 1, 3, 3}));  // depthwise
  for (const auto& [layer, width] : KerasMobileNetV1Impl::conv_widths(0.25))
    EXPECT_EQ(params[layer + ".weight"].size(0), width) << layer;
  KerasMobileNetV1Impl full(1.0);
  EXPECT_EQ(keras_param_count(full), 3228864);  // Keras MobileNet(include_top=False) "Total params"
  EXPECT_EQ(full.feature_channels(), 1024);
}

TEST(KerasMobileNetV1, OutputSizeAndPadding) {
  KerasMobileNetV1Impl m(0.25);
  EXPECT_EQ(output_shape(m, 224, 224), (std::vector<int64_t>{1, 256, 7, 7}));
  EXPECT_EQ(output_shape(m, 160, 160), (std::vector<int64_t>{1, 256, 5, 5}));
  // ZeroPadding2D((0,1),(0,1)) + valid: an odd 225 gives floor((225+1-3)/2)+1 = 112, then 56, ..., 7.
  EXPECT_EQ(output_shape(m, 225, 225), (std::vector<int64_t>{1, 256, 7, 7}));
}

TEST(KerasMobileNetV1, StagesPartitionTheParameters) {
  KerasMobileNetV1Impl m(0.25);
  ASSERT_EQ(m.stages().size(), 27u);  // stem, then the depthwise and pointwise half of 13 blocks
  expect_stages_partition(m);
}

TEST(KerasRegistry, BuildsBothWithAlpha) {
  auto v2 = make_backbone("keras-mobilenet-v2", {0.35, 0});
  auto v1 = make_backbone("keras-mobilenet-v1", {0.5, 0});
  EXPECT_EQ(v2->arch(), "keras-mobilenet-v2");
  EXPECT_EQ(v1->arch(), "keras-mobilenet-v1");
  EXPECT_EQ(v1->feature_channels(), 512);
  EXPECT_EQ(find_architecture("keras-mobilenet-v2").layout, "keras");
  EXPECT_EQ(v2->input_spec().normalization, Normalization::Symmetric);
}

}  // namespace
}  // namespace imagefit

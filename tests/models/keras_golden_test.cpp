// The Keras-layout backbones against reference features computed independently (float64) from
// the three Keras .h5 files in ../shared/weights/keras: pooled output and per-layer mean/std.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "models/input_tensor.h"
#include "models/keras_mobilenet_v1.h"
#include "models/keras_mobilenet_v2.h"
#include "test_support.h"
#include "weights/pretrained.h"

namespace imagefit {
namespace {

namespace fs = std::filesystem;
using Trace = std::vector<std::pair<std::string, torch::Tensor>>;

cv::Mat read_png_rgb(const fs::path& path) {
  cv::Mat bgr = cv::imread(path.string(), cv::IMREAD_COLOR);
  if (bgr.empty()) throw std::runtime_error("cannot read " + path.string());
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

torch::Tensor forward_traced(BackboneImpl& backbone, const torch::Tensor& x, Trace* trace) {
  if (auto* v2 = dynamic_cast<KerasMobileNetV2Impl*>(&backbone)) return v2->forward_traced(x, trace);
  if (auto* v1 = dynamic_cast<KerasMobileNetV1Impl*>(&backbone)) return v1->forward_traced(x, trace);
  throw std::runtime_error("not a Keras-layout backbone: " + backbone.arch());
}

// Loads `weights_file`, runs every golden input through it and compares with the references.
void check_golden(const std::string& weights_file, const std::string& expected_arch) {
  const fs::path shared = test::shared_dir();
  std::ifstream json_in(shared / "golden/golden_features.json");
  ASSERT_TRUE(json_in) << "cannot read golden_features.json";
  const nlohmann::json golden = nlohmann::json::parse(json_in);
  ASSERT_TRUE(golden["models"].contains(weights_file)) << weights_file << " has no reference in golden_features.json";
  const auto& ref = golden["models"][weights_file];
  const std::string ref_arch = ref["arch"];  // "mobilenet_v2" / "mobilenet_v1"
  ASSERT_EQ("keras-" + std::string(ref_arch == "mobilenet_v2" ? "mobilenet-v2" : "mobilenet-v1"), expected_arch);

  const Pretrained p = load_pretrained((shared / "weights/keras" / weights_file).string());
  ASSERT_EQ(p.arch, expected_arch);
  ASSERT_EQ(p.backbone->feature_channels(), ref["feature_size"].get<int64_t>());
  ASSERT_EQ(p.backbone->input_spec().normalization, Normalization::Symmetric);
  p.backbone->eval();
  torch::NoGradGuard no_grad;

  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(shared / "golden/inputs"))
    if (e.path().extension() == ".png") inputs.push_back(e.path());
  std::sort(inputs.begin(), inputs.end());
  ASSERT_FALSE(inputs.empty());

  double max_diff = 0, max_scaled = 0;  // |diff| and |diff| / max(1, |ref|) over every input
  int compared = 0;
  for (const auto& input : inputs) {
    const std::string name = input.filename().string();
    SCOPED_TRACE(weights_file + " on " + name);
    ASSERT_TRUE(ref["features"].contains(name)) << "no reference features for " << name;
    const cv::Mat rgb = read_png_rgb(input);
    const torch::Tensor x = images_to_tensor({rgb}, p.backbone->input_spec().normalization);
    Trace trace;
    const torch::Tensor out = forward_traced(*p.backbone, x, &trace);
    const torch::Tensor pooled = out.mean({2, 3}).squeeze(0).to(torch::kFloat64);

    const std::vector<double> expected = ref["features"][name].get<std::vector<double>>();
    ASSERT_EQ(pooled.numel(), static_cast<int64_t>(expected.size()));
    const torch::Tensor expected_t = torch::tensor(expected, torch::kFloat64);
    const torch::Tensor diff = (pooled - expected_t).abs();
    const torch::Tensor scaled = diff / expected_t.abs().clamp_min(1.0);
    max_diff = std::max(max_diff, diff.max().item<double>());
    max_scaled = std::max(max_scaled, scaled.max().item<double>());
    ++compared;

    // Per-layer statistics first: when the features disagree, these say where it starts.
    std::map<std::string, torch::Tensor> ours(trace.begin(), trace.end());
    for (const auto& [layer, stats] : ref["trace"][name].items()) {
      ASSERT_TRUE(ours.count(layer)) << "the model does not trace Keras layer " << layer;
      const torch::Tensor t = ours[layer].squeeze(0).to(torch::kFloat64);
      const std::vector<int64_t> shape = stats["shape"].get<std::vector<int64_t>>();
      ASSERT_EQ(t.sizes().vec(), shape) << "shape of " << layer;
      const double mean = stats["mean"], stdv = stats["std"];
      EXPECT_NEAR(t.mean().item<double>(), mean, 1e-4 * std::max(1.0, std::abs(mean))) << "mean of " << layer;
      EXPECT_NEAR(t.std(/*unbiased=*/true).item<double>(), stdv, 1e-4 * std::max(1.0, std::abs(stdv)))
          << "std of " << layer;
    }
    EXPECT_LE(scaled.max().item<double>(), 1e-4) << "pooled features differ: max |diff| " << diff.max().item<double>()
                                                 << " at index " << scaled.argmax().item<int64_t>();
  }
  EXPECT_EQ(compared, static_cast<int>(inputs.size()));
  std::cout << "[ golden   ] " << weights_file << ": " << compared << " inputs, max |diff| " << max_diff
            << ", max |diff|/max(1,|ref|) " << max_scaled << std::endl;
  ::testing::Test::RecordProperty("max_abs_diff", std::to_string(max_diff));
}

TEST(KerasGolden, TeachableMachineMobileNetV2) {
  IMAGEFIT_REQUIRE_SHARED("weights/keras/teachable_machine_mobilenet_v2_0.35_224.h5");
  IMAGEFIT_REQUIRE_SHARED("golden/golden_features.json");
  check_golden("teachable_machine_mobilenet_v2_0.35_224.h5", "keras-mobilenet-v2");
}

TEST(KerasGolden, TeachableMachineMobileNetV2SecondExport) {
  IMAGEFIT_REQUIRE_SHARED("weights/keras/teachable_machine_mobilenet_v2_0.35_224_b.h5");
  IMAGEFIT_REQUIRE_SHARED("golden/golden_features.json");
  check_golden("teachable_machine_mobilenet_v2_0.35_224_b.h5", "keras-mobilenet-v2");
}

TEST(KerasGolden, KerasApplicationsMobileNetV1) {
  IMAGEFIT_REQUIRE_SHARED("weights/keras/mobilenet_2_5_224_tf_no_top.h5");
  IMAGEFIT_REQUIRE_SHARED("golden/golden_features.json");
  check_golden("mobilenet_2_5_224_tf_no_top.h5", "keras-mobilenet-v1");
}

}  // namespace
}  // namespace imagefit

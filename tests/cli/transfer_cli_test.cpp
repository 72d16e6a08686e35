// `imagefit train DATA` with no model named: the best pretrained backbone on the machine (here the
// Keras MobileNet V1-0.25 file from ../shared, put in a private cache), the linear probe, the
// `auto` strategy's decision; and the fallback to simple-cnn when there is no backbone.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/fs.h"
#include "test_support.h"

using namespace imagefit;
using imagefit::test::imagefit_binary;
using imagefit::test::run_command;
using imagefit::test::shared_dir;
using imagefit::test::source_dir;

namespace {
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

nlohmann::json last_json(const std::string& out) {
  auto pos = out.rfind("\n{");
  return nlohmann::json::parse(out.substr(pos == std::string::npos ? out.find('{') : pos + 1));
}

// Environment that makes `cache` the only place pretrained weights are looked for.
std::string only_cache(const fs::path& cache, const fs::path& empty) {
  return "IMAGEFIT_CACHE=" + q(cache) + " KERAS_HOME=" + q(empty) + " TORCH_HOME=" + q(empty) + " HOME=" + q(empty) + " XDG_CACHE_HOME=" + q(empty) + " ";
}
}  // namespace

TEST(TransferDefaults, UsesTheBestCachedBackboneAndDecidesTheStrategy) {
  IMAGEFIT_REQUIRE_SHARED("weights/keras/mobilenet_2_5_224_tf_no_top.h5");
  TempDir dir;
  const fs::path cache = dir.path() / "cache", empty = dir.path() / "empty", data = dir.path() / "data";
  fs::create_directories(cache);
  fs::create_directories(empty);
  fs::create_symlink(shared_dir() / "weights/keras/mobilenet_2_5_224_tf_no_top.h5", cache / "mobilenet_2_5_224_tf_no_top.h5");
  auto split = run_command(imagefit_binary().string() + " split " + q(source_dir() / "data/sample-sign-digits") + " " +
                           q(data) + " --val 0.2 --test 0.2 --seed 0");
  ASSERT_EQ(split.exit_code, 0) << split.output;

  const fs::path model = dir.path() / "digits.imagefit";
  // No --arch, no --weights, no --strategy: only a bound on the epochs, for the test's time.
  auto r = run_command(only_cache(cache, empty) + imagefit_binary().string() + " train " + q(data) + " -o " + q(model) +
                       " --epochs 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("using the pretrained backbone keras-mobilenet-v1-0.25"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("linear probe (logistic regression, L-BFGS"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("strategy auto: linear probe reaches"), std::string::npos) << r.output;
  const auto j = last_json(r.output);
  EXPECT_EQ(j["arch"], "keras-mobilenet-v1");
  EXPECT_TRUE(j["strategy"] == "feature-extract" || j["strategy"] == "fine-tune") << j.dump();
  // ImageNet features on 360 training images: far above the 10% of chance (and above what
  // simple-cnn reaches from scratch on this data in the end-to-end test).
  EXPECT_GE(j["test_accuracy"].get<double>(), 0.75) << r.output;
  std::printf("[ measured ] default transfer learning on the sample digits: %s, test accuracy %.4f\n",
              j["strategy"].get<std::string>().c_str(), j["test_accuracy"].get<double>());

  // The model file alone predicts (no weights file, no cache).
  const fs::path image = *fs::directory_iterator(data / "test" / "4");
  auto p = run_command(only_cache(empty, empty) + imagefit_binary().string() + " predict " + q(model) + " " + q(image) +
                       " --json");
  ASSERT_EQ(p.exit_code, 0) << p.output;
  EXPECT_NE(p.output.find("\"label\""), std::string::npos) << p.output;
  auto info = run_command(imagefit_binary().string() + " info " + q(model) + " --json");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  auto meta = nlohmann::json::parse(info.output);
  EXPECT_EQ(meta["training"]["head_solver"], "lbfgs");
  EXPECT_TRUE(meta["training"].contains("probe_val_accuracy"));
  EXPECT_TRUE(meta["training"]["history"].is_string());
}

TEST(TransferDefaults, WithoutABackboneTrainsSimpleCnnAndSaysWhy) {
  TempDir dir;
  const fs::path empty = dir.path() / "empty", ds = dir.path() / "ds";
  fs::create_directories(empty);
  for (const char* c : {"a", "b"})
    for (int i = 0; i < 6; ++i) {
      fs::create_directories(ds / c);
      cv::imwrite((ds / c / (std::to_string(i) + ".png")).string(),
                  cv::Mat(24, 24, CV_8UC3, cv::Scalar(c[0] == 'a' ? 20 + i : 220 - i, 90, 40)));
    }
  auto r = run_command(only_cache(empty, empty) + imagefit_binary().string() + " train " + q(ds) + " -o " +
                       q(dir.path() / "m.imagefit") + " --image-size 16 --epochs 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("training simple-cnn from scratch: no pretrained backbone"), std::string::npos) << r.output;
  EXPECT_EQ(last_json(r.output)["arch"], "simple-cnn");
  // Asking for transfer learning without a backbone is an error that says what to do.
  auto e = run_command(only_cache(empty, empty) + imagefit_binary().string() + " train " + q(ds) + " -o " +
                       q(dir.path() / "m2.imagefit") + " --strategy fine-tune --epochs 1");
  EXPECT_EQ(e.exit_code, 1) << e.output;
  EXPECT_NE(e.output.find("needs a pretrained backbone"), std::string::npos) << e.output;
}

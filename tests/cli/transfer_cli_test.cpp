// `imagefit train DATA` with no model named: the best pretrained backbone on the machine (here the
// Keras MobileNet V1-0.25 file from ../shared, put in a private cache), the linear probe, the
// `auto` strategy's decision; and the fallback to simple-cnn when there is no backbone.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/cpu_features.h"

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

// Environment that makes `cache` the only place pretrained weights are looked for (the embedded
// backbone hidden too).
std::string only_cache(const fs::path& cache, const fs::path& empty) {
  return "IMAGEFIT_CACHE=" + q(cache) + " KERAS_HOME=" + q(empty) + " TORCH_HOME=" + q(empty) + " HOME=" + q(empty) +
         " XDG_CACHE_HOME=" + q(empty) + " IMAGEFIT_DATA_DIR=" + q(empty) + " ";
}
// Nothing downloaded anywhere, but the embedded backbone where the binary looks for it.
std::string nothing_downloaded(const fs::path& empty) {
  return "IMAGEFIT_CACHE=" + q(empty) + " KERAS_HOME=" + q(empty) + " TORCH_HOME=" + q(empty) + " HOME=" + q(empty) +
         " XDG_CACHE_HOME=" + q(empty) + " ";
}

// A small dataset: `per_class` images of each of `classes` sign-digit classes from the sample set.
fs::path small_digits(const fs::path& dir, int classes, int per_class) {
  const fs::path out = dir / "small";
  for (int c = 0; c < classes; ++c) {
    fs::create_directories(out / std::to_string(c));
    int n = 0;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(source_dir() / "data/sample-sign-digits" / std::to_string(c)))
      files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      if (n++ == per_class) break;
      fs::copy_file(f, out / std::to_string(c) / f.filename());
    }
  }
  return out;
}

std::vector<std::vector<std::string>> csv_rows(const fs::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read_file(p));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
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
  EXPECT_NE(r.output.find("strategy auto: the linear probe reaches"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\nplan: linear probe on frozen features"), std::string::npos) << r.output;
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

// With nothing downloaded, `imagefit train DATA` does transfer learning with the backbone shipped beside
// the binary: in the build tree, and in an installed tree (cmake --install).
TEST(EmbeddedBackbone, FoundFromTheBuildTreeAndFromAnInstall) {
  TempDir dir;
  const fs::path empty = dir.path() / "empty";
  fs::create_directories(empty);
  const fs::path data = small_digits(dir.path(), 3, 8);
  auto r = run_command(nothing_downloaded(empty) + imagefit_binary().string() + " train " + q(data) + " -o " +
                       q(dir.path() / "a.imagefit") + " --epochs 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("using the embedded pretrained backbone keras-mobilenet-v1-0.25 ("), std::string::npos) << r.output;
  EXPECT_EQ(last_json(r.output)["arch"], "keras-mobilenet-v1");

  const fs::path prefix = dir.path() / "prefix";
  auto inst = run_command("cmake --install " + q(imagefit_binary().parent_path()) + " --prefix " + q(prefix));
  ASSERT_EQ(inst.exit_code, 0) << inst.output;
  ASSERT_TRUE(fs::exists(prefix / "share/imagefit/mobilenet_2_5_224_tf_no_top.h5")) << inst.output;
  ASSERT_TRUE(fs::exists(prefix / "share/imagefit/NOTICE.md"));
  r = run_command(nothing_downloaded(empty) + q(prefix / "bin/imagefit") + " train " + q(data) + " -o " +
                  q(dir.path() / "b.imagefit") + " --strategy feature-extract --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("using the embedded pretrained backbone keras-mobilenet-v1-0.25 (" +
                          (prefix / "share/imagefit").string()),
            std::string::npos)
      << r.output;
  EXPECT_EQ(last_json(r.output)["arch"], "keras-mobilenet-v1");
}

// Fine-tuning the last stages with their frozen input cached computes what fine-tuning through the
// whole network computes, batch for batch (fp32, no augmentation, SGD): the same losses every epoch.
TEST(FineTune, CachedActivationsTrainLikeTheWholeNetwork) {
  TempDir dir;
  const fs::path empty = dir.path() / "empty";
  fs::create_directories(empty);
  const fs::path data = small_digits(dir.path(), 3, 20);
  std::vector<std::vector<std::vector<std::string>>> runs;
  for (const char* flag : {"", " --no-activation-cache"}) {
    const fs::path model = dir.path() / (std::string(flag).empty() ? "cached.imagefit" : "plain.imagefit");
    auto r = run_command(nothing_downloaded(empty) + imagefit_binary().string() + " train " + q(data) + " -o " + q(model) +
                         " --strategy fine-tune --unfreeze 9 --epochs 2 --patience 0 --precision fp32 --augment none"
                         " --optimizer sgd --lr 1e-2 --batch-size 8 --seed 3" + flag);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("activation cache: 1 copy") != std::string::npos, std::string(flag).empty()) << r.output;
    runs.push_back(csv_rows(dir.path() / (model.stem().string() + ".history.csv")));
  }
  ASSERT_EQ(runs[0].size(), 3u);  // probe + 2 fine-tune epochs
  ASSERT_EQ(runs[1].size(), 3u);
  for (size_t e = 1; e < 3; ++e) {
    EXPECT_EQ(runs[0][e][1], "fine-tune");
    for (size_t col : {2, 4}) {  // train_loss, val_loss
      const double a = std::stod(runs[0][e][col]), b = std::stod(runs[1][e][col]);
      EXPECT_NEAR(a, b, 2e-4 * std::max(1.0, std::abs(b))) << "epoch " << e << " column " << col;
    }
  }
  // The fine-tuning changed something (the comparison is not of two untouched probes).
  EXPECT_NE(runs[0][1][2], runs[0][2][2]);
}

// --label-smoothing e trains against (1 - e)·one-hot + e/K: the training loss cannot go below that
// target's entropy, which a network that fits its few images goes well below without it; val_loss
// stays the plain cross-entropy (the probe's row, not trained with it, is the same in both runs).
TEST(FineTune, LabelSmoothingTrainsAgainstTheSmoothedTarget) {
  TempDir dir;
  const fs::path empty = dir.path() / "empty";
  fs::create_directories(empty);
  const fs::path data = small_digits(dir.path(), 3, 12);
  const double e = 0.3, k = 3;
  const double hi = 1 - e + e / k, lo = e / k;
  const double floor = -(hi * std::log(hi) + (k - 1) * lo * std::log(lo));  // 0.6390 nats
  std::vector<std::vector<std::vector<std::string>>> runs;
  for (const char* flag : {"", " --label-smoothing 0.3"}) {
    const fs::path model = dir.path() / (std::string(flag).empty() ? "plain.imagefit" : "smooth.imagefit");
    auto r = run_command(nothing_downloaded(empty) + imagefit_binary().string() + " train " + q(data) + " -o " + q(model) +
                         " --strategy fine-tune --image-size 96 --unfreeze 9 --epochs 4 --patience 0 --precision fp32"
                         " --augment none --seed 3 -q" + flag);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    runs.push_back(csv_rows(dir.path() / (model.stem().string() + ".history.csv")));
  }
  ASSERT_EQ(runs[0].size(), 5u);
  ASSERT_EQ(runs[1].size(), 5u);
  EXPECT_EQ(runs[0][0][4], runs[1][0][4]);  // the probe's val_loss: no smoothing there
  for (size_t ep = 1; ep < 5; ++ep) EXPECT_GE(std::stod(runs[1][ep][2]), floor - 1e-3) << "epoch " << ep;
  EXPECT_LT(std::stod(runs[0][4][2]), floor / 2) << "without smoothing the images are fitted well below the floor";
  auto info = nlohmann::json::parse(run_command(imagefit_binary().string() + " info " + q(dir.path() / "smooth.imagefit") + " --json").output);
  EXPECT_DOUBLE_EQ(info["training"]["label_smoothing"].get<double>(), 0.3);
}

// --monitor val_accuracy: the model kept is the epoch of the highest val_accuracy in the history
// (ties: the lower val_loss), found here from the history file.
TEST(FineTune, MonitorValAccuracyKeepsTheMostAccurateEpoch) {
  TempDir dir;
  const fs::path empty = dir.path() / "empty";
  fs::create_directories(empty);
  // 10 classes x 8 images at 64 px: fine-tuning at --lr 3e-3 raises val_accuracy above the probe's
  // while val_loss stays above it, so the two monitors keep different epochs.
  const fs::path data = small_digits(dir.path(), 10, 8);
  const fs::path model = dir.path() / "m.imagefit";
  auto r = run_command(nothing_downloaded(empty) + imagefit_binary().string() + " train " + q(data) + " -o " + q(model) +
                       " --strategy fine-tune --image-size 64 --epochs 6 --patience 0 --seed 3 --lr 3e-3 --threads 1"
                       " --monitor val_accuracy --json -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = csv_rows(dir.path() / "m.history.csv");
  ASSERT_EQ(rows.size(), 7u);
  size_t best = 0, lowest_loss = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    const double acc = std::stod(rows[i][5]), best_acc = std::stod(rows[best][5]);
    if (acc > best_acc || (acc == best_acc && std::stod(rows[i][4]) < std::stod(rows[best][4]))) best = i;
    if (std::stod(rows[i][4]) < std::stod(rows[lowest_loss][4])) lowest_loss = i;
  }
  EXPECT_NE(best, lowest_loss) << "the data no longer tells the monitors apart: the test proves nothing";
  auto info = nlohmann::json::parse(run_command(imagefit_binary().string() + " info " + q(model) + " --json").output);
  EXPECT_EQ(info["training"]["best_epoch"].get<size_t>(), best + 1);
  EXPECT_EQ(info["training"]["monitor"], "val_accuracy");
}

// --schedule onecycle from scratch (where auto keeps the rate constant): the learning rate the history
// records at the end of each epoch is PyTorch's OneCycleLR at that step (train/schedule.h, itself
// checked against PyTorch), and the model records the schedule.
TEST(Scratch, ScheduleOneCycleMovesTheLearningRate) {
  TempDir dir;
  const fs::path data = small_digits(dir.path(), 2, 16);
  const fs::path model = dir.path() / "s.imagefit";
  auto r = run_command(imagefit_binary().string() + " train " + q(data) + " -o " + q(model) +
                       " --arch simple-cnn --image-size 32 --epochs 3 --batch-size 8 --val-split 0.25 --lr 0.01 --seed 1"
                       " --schedule onecycle -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = csv_rows(dir.path() / "s.history.csv");
  ASSERT_EQ(rows.size(), 3u);
  // 24 training images, batch 8: 3 steps an epoch, 9 in all; epoch e ends after step 3e - 1.
  auto onecycle = [](double step, double total) {
    const double up = 0.3 * total - 1, down = total - 1;
    auto anneal = [](double a, double b, double pct) { return b + (a - b) / 2 * (std::cos(M_PI * pct) + 1); };
    return step <= up ? anneal(1.0 / 25, 1, step / up) : anneal(1, 1.0 / 25 / 1e4, (step - up) / (down - up));
  };
  for (size_t e = 0; e < 3; ++e)
    EXPECT_NEAR(std::stod(rows[e][6]), 0.01 * onecycle(3.0 * double(e + 1) - 1, 9), 1e-6) << "epoch " << e + 1;
  auto info = nlohmann::json::parse(run_command(imagefit_binary().string() + " info " + q(model) + " --json").output);
  EXPECT_EQ(info["training"]["schedule"], "onecycle");
}

// --precision is recorded in the model; auto picks bf16 exactly where the CPU has native bf16
// (IMAGEFIT_CPU_BF16 pretends either way, so both branches run on every machine).
TEST(Precision, AutoPicksBf16OnlyWhereTheCpuHasIt) {
  TempDir dir;
  const fs::path empty = dir.path() / "empty";
  fs::create_directories(empty);
  const fs::path data = small_digits(dir.path(), 2, 8);
  auto precision_of = [&](const std::string& env, const std::string& flags) {
    const fs::path model = dir.path() / "p.imagefit";
    auto r = run_command(env + nothing_downloaded(empty) + imagefit_binary().string() + " train " + q(data) + " -o " +
                         q(model) + " --strategy fine-tune --epochs 1 --augment none -q --json --force " + flags);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    if (r.exit_code != 0) return std::string("failed");
    auto info = nlohmann::json::parse(run_command(imagefit_binary().string() + " info " + q(model) + " --json").output);
    EXPECT_EQ(last_json(r.output)["precision"], info["training"]["precision"]);
    return info["training"]["precision"].get<std::string>();
  };
  EXPECT_EQ(precision_of("IMAGEFIT_CPU_BF16=1 ", ""), "bf16");
  EXPECT_EQ(precision_of("IMAGEFIT_CPU_BF16=0 ", ""), "fp32");
  EXPECT_EQ(precision_of("IMAGEFIT_CPU_BF16=1 ", "--precision fp32"), "fp32");
  EXPECT_EQ(precision_of("", ""), cpu_has_native_bf16() ? "bf16" : "fp32");
  std::printf("[ measured ] this CPU %s native bf16\n", cpu_has_native_bf16() ? "has" : "lacks");
  // A model trained in bf16 predicts in either precision, close to each other.
  const fs::path image = *fs::directory_iterator(data / "0");
  auto p16 = run_command(imagefit_binary().string() + " predict " + q(dir.path() / "p.imagefit") + " " + q(image) +
                         " --json --top-k 2 --precision bf16");
  auto p32 = run_command(imagefit_binary().string() + " predict " + q(dir.path() / "p.imagefit") + " " + q(image) +
                         " --json --top-k 2 --precision fp32");
  ASSERT_EQ(p16.exit_code, 0) << p16.output;
  ASSERT_EQ(p32.exit_code, 0) << p32.output;
  const auto j16 = last_json(p16.output), j32 = last_json(p32.output);
  EXPECT_EQ(j16["label"], j32["label"]);
  EXPECT_NEAR(j16["probability"].get<double>(), j32["probability"].get<double>(), 0.05);
  auto bad = run_command(imagefit_binary().string() + " predict " + q(dir.path() / "p.imagefit") + " " + q(image) +
                         " --precision fp16");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--precision"), std::string::npos) << bad.output;
}

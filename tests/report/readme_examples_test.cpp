// Writes the example pictures shown in the README (docs/images/) to <build>/test-artifacts/examples/,
// so they can be regenerated with `cp <build>/test-artifacts/examples/*.png docs/images/`. The
// numbers are illustrative (a plausible two-phase transfer-learning run); the photos come from the
// sign-digits set, the one dataset that may be shipped (Apache-2.0).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "data/dataset.h"
#include "data/image_io.h"
#include "report/confusion.h"
#include "report/curves.h"
#include "report/image_grid.h"
#include "report_test_util.h"
#include "test_support.h"

namespace imagefit {
namespace {

namespace fs = std::filesystem;

constexpr uintmax_t kMaxReadmeImageBytes = 200 * 1024;

History example_history() {
  History h;
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 1);
  for (int i = 1; i <= 20; ++i) {
    EpochRecord r;
    r.epoch = i;
    r.phase = i <= 10 ? "head" : "fine-tune";
    double t = i;
    r.train_loss = i <= 10 ? 1.2 * std::exp(-t / 3.0) + 0.25 : 0.25 * std::exp(-(t - 10) / 4.0) + 0.04;
    r.val_loss = i <= 10 ? 1.0 * std::exp(-t / 3.5) + 0.30 + 0.01 * noise(rng)
                         : 0.30 * std::exp(-(t - 10) / 2.5) + 0.16 + 0.012 * (t - 15) * (t > 15) + 0.008 * noise(rng);
    r.train_accuracy = std::min(0.995, 1.0 - 0.42 * r.train_loss);
    r.val_accuracy = std::min(0.99, 1.0 - 0.33 * r.val_loss + 0.004 * noise(rng));
    h.push_back(r);
  }
  return h;
}

TEST(ReadmeExamples, WriteCurvesConfusionAndMistakes) {
  IMAGEFIT_REQUIRE_SHARED("data/sign-digits/0");
  fs::path out = test::artifacts_dir() / "examples";
  fs::path digits = test::shared_dir() / "data" / "sign-digits";

  write_curves_png(example_history(), "sign digits: mobilenet_v2 head, then fine-tune (example)",
                   (out / "curves.png").string());

  std::vector<std::string> classes;
  for (int i = 0; i < 10; ++i) classes.push_back(std::to_string(i));
  ConfusionMatrix m(10, std::vector<int64_t>(10, 0));
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> pick(0, 9);
  for (int r = 0; r < 10; ++r) {
    m[r][r] = 30;
    for (int k = 0; k < 2 + (r % 3 == 1 ? 2 : 0); ++k) {
      int c = pick(rng);
      if (c == r) c = (c + 1) % 10;
      m[r][c]++;
      m[r][r]--;
    }
  }
  write_confusion_png(classes, m, "Confusion matrix: sign digits, test split (example)",
                      (out / "confusion.png").string());

  std::vector<GridCell> cells;
  for (int i = 0; i < 10; ++i) {
    auto files = list_image_files((digits / std::to_string(i)).string());
    ASSERT_GT(files.size(), size_t(5 + i));
    const std::string& path = files[5 + i];
    char caption[96];
    std::snprintf(caption, sizeof caption, "true: %d / pred: %d %.2f", i, (i + 3) % 10, 0.97 - 0.045 * i);
    cells.push_back({read_image_rgb(path), caption, fs::path(path).filename().string(), true});
  }
  write_image_grid_png(cells, 5, 130, "Most confident mistakes (example)", (out / "mistakes.png").string());

  for (const char* name : {"curves.png", "confusion.png", "mistakes.png"}) {
    fs::path p = out / name;
    ASSERT_TRUE(fs::exists(p)) << p;
    EXPECT_LT(fs::file_size(p), kMaxReadmeImageBytes) << p << " is too big for the README";
    EXPECT_FALSE(cv::imread(p.string()).empty()) << p;
  }
}

}  // namespace
}  // namespace imagefit

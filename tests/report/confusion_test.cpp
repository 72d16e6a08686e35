#include "report/confusion.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "report/metrics.h"
#include "report_test_util.h"

namespace imagefit {
namespace {

using test::decode_bgr;

// Mean darkness (255 - mean channel) of a small patch near the top-left corner of cell (r, c),
// away from the count text in the middle.
double cell_darkness(const cv::Mat& img, const ConfusionLayout& L, int r, int c) {
  int x = int(L.grid_left + c * L.cell) + 3, y = int(L.grid_top + r * L.cell) + 3;
  int s = std::max(3, int(L.cell / 6));
  cv::Scalar mean = cv::mean(img(cv::Rect(x, y, s, s)));
  return 255 - (mean[0] + mean[1] + mean[2]) / 3;
}

TEST(Confusion, PictureSizeMatchesLayoutAndCellsDarkenWithCount) {
  std::vector<std::string> classes{"cats", "dogs", "foxes"};
  ConfusionMatrix m{{0, 5, 10}, {20, 40, 60}, {80, 90, 100}};
  ConfusionLayout L = confusion_layout(classes, "test set");
  cv::Mat img = decode_bgr(confusion_png(classes, m, "test set"));
  ASSERT_EQ(img.cols, L.width);
  ASSERT_EQ(img.rows, L.height);
  ASSERT_LE(L.grid_left + 3 * L.cell, L.width);
  ASSERT_LE(L.grid_top + 3 * L.cell, L.height);
  EXPECT_FALSE(L.rotated_labels);
  std::vector<std::pair<int64_t, double>> cells;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) cells.push_back({m[r][c], cell_darkness(img, L, r, c)});
  std::sort(cells.begin(), cells.end());
  for (size_t i = 1; i < cells.size(); ++i)
    EXPECT_GT(cells[i].second, cells[i - 1].second)
        << "count " << cells[i].first << " is not darker than count " << cells[i - 1].first;
  EXPECT_LT(cells.front().second, 15) << "a zero cell should be nearly white";
}

TEST(Confusion, CountsAreDrawnInContrastingColours) {
  std::vector<std::string> classes{"a", "b"};
  ConfusionMatrix m{{100, 0}, {3, 97}};
  ConfusionLayout L = confusion_layout(classes, "t");
  cv::Mat img = decode_bgr(confusion_png(classes, m, "t"));
  auto center = [&](int r, int c) {
    return img(cv::Rect(int(L.grid_left + (c + 0.25) * L.cell), int(L.grid_top + (r + 0.25) * L.cell),
                        int(L.cell / 2), int(L.cell / 2)));
  };
  auto count_if = [](const cv::Mat& patch, auto pred) {
    int n = 0;
    for (int y = 0; y < patch.rows; ++y)
      for (int x = 0; x < patch.cols; ++x) n += pred(patch.at<cv::Vec3b>(y, x));
    return n;
  };
  auto bright = [](const cv::Vec3b& p) { return p[0] > 220 && p[1] > 220 && p[2] > 220; };
  auto dark = [](const cv::Vec3b& p) { return p[0] < 90 && p[1] < 90 && p[2] < 90; };
  // Dark cell (100): white digits on blue. Light cell (0): dark digits on near-white.
  EXPECT_GT(count_if(center(0, 0), bright), 20);
  EXPECT_GT(count_if(center(0, 1), dark), 20);
  EXPECT_GT(heat_color(0.0), heat_color(1.0));  // light → dark
  EXPECT_TRUE(heat_text_is_light(1.0));
  EXPECT_FALSE(heat_text_is_light(0.0));
}

TEST(Confusion, FortyClassesWithLongNamesFitAndRotateLabels) {
  std::vector<std::string> classes;
  for (int i = 0; i < 40; ++i) classes.push_back("product category number " + std::to_string(i));
  ConfusionMatrix m(40, std::vector<int64_t>(40, 1));
  for (int i = 0; i < 40; ++i) m[i][i] = 50 + i;
  ConfusionLayout L = confusion_layout(classes, "40 classes");
  EXPECT_TRUE(L.rotated_labels);
  EXPECT_GE(L.cell, 20);
  EXPECT_LT(L.width, 1800);
  EXPECT_LT(L.height, 1800);
  cv::Mat img = decode_bgr(confusion_png(classes, m, "40 classes"));
  ASSERT_EQ(img.cols, L.width);
  // Diagonal darker than off-diagonal everywhere.
  for (int i = 0; i < 40; i += 7) EXPECT_GT(cell_darkness(img, L, i, i), cell_darkness(img, L, i, (i + 1) % 40) + 50);
  // Rotated names below the grid: ink under the grid, spread over its width.
  int below = int(L.grid_top + 40 * L.cell) + 8;
  cv::Mat under = img(cv::Rect(0, below, img.cols, std::min(120, img.rows - below)));
  cv::Mat gray;
  cv::cvtColor(under, gray, cv::COLOR_BGR2GRAY);
  EXPECT_GT(cv::countNonZero(gray < 128), 2000);
}

TEST(Confusion, TwoClassesAndAllZeroMatrixRender) {
  cv::Mat img = decode_bgr(confusion_png({"hotdog", "not hotdog"}, {{0, 0}, {0, 0}}, "nothing evaluated"));
  EXPECT_GT(img.cols, 200);
  EXPECT_GT(img.rows, 200);
  std::string svg = confusion_svg({"x", "y"}, {{1, 2}, {3, 4}}, "svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
}

TEST(Confusion, RejectsMatrixThatDoesNotMatchTheClasses) {
  EXPECT_THROW(confusion_png({"a", "b"}, {{1, 2}}, "t"), Error);
  EXPECT_THROW(confusion_png({"a", "b"}, {{1, 2}, {3}}, "t"), Error);
  EXPECT_THROW(confusion_png({"a", "b"}, {{1, -2}, {3, 4}}, "t"), Error);
  EXPECT_THROW(confusion_png({}, {}, "t"), Error);
}

TEST(Confusion, WritesPngAtomicallyAndReportsUnwritableTargets) {
  TempDir dir("imagefit-confusion");
  auto path = dir.path() / "confusion.png";
  write_confusion_png({"a", "b"}, {{5, 1}, {2, 7}}, "t", path.string());
  EXPECT_FALSE(cv::imread(path.string()).empty());
  EXPECT_EQ(test::temp_files_in(dir.path()), 0);
  atomic_write_text(dir.path() / "file", "x");
  EXPECT_THROW(write_confusion_png({"a", "b"}, {{5, 1}, {2, 7}}, "t", (dir.path() / "file" / "c.png").string()),
               Error);
  EXPECT_EQ(test::temp_files_in(dir.path()), 0);
}

TEST(Metrics, FromConfusionMatrixFollowTheDefinitions) {
  // 3 classes; per class: tp on the diagonal, fp down its column, fn along its row.
  ConfusionMatrix m{{8, 1, 1}, {2, 6, 2}, {0, 0, 0}};
  auto r = metrics_from_confusion({"a", "b", "c"}, m);
  ASSERT_EQ(r.per_class.size(), 3u);
  EXPECT_EQ(r.total, 20);
  EXPECT_DOUBLE_EQ(r.accuracy, 14.0 / 20);
  EXPECT_DOUBLE_EQ(r.per_class[0].precision, 8.0 / 10);
  EXPECT_DOUBLE_EQ(r.per_class[0].recall, 8.0 / 10);
  EXPECT_DOUBLE_EQ(r.per_class[1].precision, 6.0 / 7);
  EXPECT_DOUBLE_EQ(r.per_class[1].recall, 6.0 / 10);
  double p = 6.0 / 7, rc = 0.6;
  EXPECT_DOUBLE_EQ(r.per_class[1].f1, 2 * p * rc / (p + rc));
  // Class c: predicted 3 times, never right, no samples: all zero rather than NaN.
  EXPECT_EQ(r.per_class[2].support, 0);
  EXPECT_EQ(r.per_class[2].precision, 0);
  EXPECT_EQ(r.per_class[2].f1, 0);
  EXPECT_NEAR(r.macro_avg.f1, (r.per_class[0].f1 + r.per_class[1].f1) / 3, 1e-12);
  EXPECT_NEAR(r.weighted_avg.recall, (0.8 * 10 + 0.6 * 10) / 20, 1e-12);
  EXPECT_EQ(r.per_class[1].name, "b");
}

}  // namespace
}  // namespace imagefit

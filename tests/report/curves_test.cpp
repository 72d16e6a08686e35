#include "report/curves.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "report_test_util.h"

namespace imagefit {
namespace {

using test::column_counts;
using test::count_color;
using test::decode_bgr;
using test::synthetic_history;

constexpr uint32_t kTrainBlue = 0x1f77b4, kValOrange = 0xff7f0e, kBestGreen = 0x2ca02c, kFrame = 0x444444;
constexpr uint32_t kPhaseShade = 0xf3f1ea;

// The plot frames: rows with a long run of frame-coloured pixels in the given half.
struct Frame {
  int top = -1, bottom = -1;
};
Frame find_frame(const cv::Mat& img, int x0, int x1) {
  Frame f;
  for (int y = 0; y < img.rows; ++y) {
    if (count_color(img, kFrame, 12, cv::Rect(x0, y, x1 - x0, 1)) > (x1 - x0) / 2) {
      if (f.top < 0) f.top = y;
      f.bottom = y;
    }
  }
  return f;
}

// Leftmost column (in image coordinates) of the right half where a vertical green line stands.
int best_line_column(const cv::Mat& img) {
  cv::Rect right(img.cols / 2, 0, img.cols / 2, img.rows);
  auto counts = column_counts(img, kBestGreen, 30, right);
  for (size_t x = 0; x < counts.size(); ++x)
    if (counts[x] >= 100) return right.x + int(x);
  return -1;
}

TEST(Curves, PngHasBothPanelsWithTrainingAndValidationLines) {
  cv::Mat img = decode_bgr(curves_png(synthetic_history(30, 12), "cats vs dogs"));
  ASSERT_EQ(img.cols, 1200);
  ASSERT_EQ(img.rows, 480);
  for (int half = 0; half < 2; ++half) {
    int x0 = half * 600, x1 = x0 + 600;
    Frame f = find_frame(img, x0, x1);
    ASSERT_GT(f.top, 0) << "no plot frame in panel " << half;
    ASSERT_GT(f.bottom - f.top, 200) << "plot area too small in panel " << half;
    cv::Rect plot(x0, f.top + 1, 600, f.bottom - f.top - 1);
    EXPECT_GT(count_color(img, kTrainBlue, 25, plot), 300) << "training curve missing in panel " << half;
    EXPECT_GT(count_color(img, kValOrange, 25, plot), 300) << "validation curve missing in panel " << half;
  }
  // Text was drawn: the title and tick labels are dark pixels above and left of the plots.
  EXPECT_GT(count_color(img, 0x222222, 60, cv::Rect(0, 0, 1200, 45)), 100) << "title missing";
  EXPECT_GT(count_color(img, 0x222222, 60, cv::Rect(0, 100, 80, 300)), 100) << "y tick labels missing";
}

TEST(Curves, BestEpochLineFollowsLowestValidationLoss) {
  cv::Mat early = decode_bgr(curves_png(synthetic_history(10, 3), "t"));
  cv::Mat late = decode_bgr(curves_png(synthetic_history(10, 8), "t"));
  int x_early = best_line_column(early), x_late = best_line_column(late);
  ASSERT_GT(x_early, 0) << "no best-epoch line";
  ASSERT_GT(x_late, 0) << "no best-epoch line";
  // Epoch 8 lies 5/9 of the plot width to the right of epoch 3 (plot ≈ 490 px wide).
  EXPECT_GT(x_late - x_early, 200);
  // And in both panels: the left half has its line too.
  auto left_counts = column_counts(early, kBestGreen, 30, cv::Rect(0, 0, 600, early.rows));
  EXPECT_GE(*std::max_element(left_counts.begin(), left_counts.end()), 100);
}

TEST(Curves, PhaseChangeIsShadedFromTheFineTuneEpoch) {
  cv::Mat none = decode_bgr(curves_png(synthetic_history(20, 10), "t"));
  EXPECT_EQ(count_color(none, kPhaseShade, 2), 0) << "shading without a phase change";
  cv::Mat at6 = decode_bgr(curves_png(synthetic_history(20, 10, 6), "t"));
  cv::Mat at15 = decode_bgr(curves_png(synthetic_history(20, 10, 15), "t"));
  auto first_shaded_column = [](const cv::Mat& img) {
    auto c = column_counts(img, kPhaseShade, 2, cv::Rect(600, 0, 600, img.rows));
    for (size_t x = 0; x < c.size(); ++x)
      if (c[x] > 50) return int(x);
    return -1;
  };
  EXPECT_GT(count_color(at6, kPhaseShade, 2), 20000);
  int a = first_shaded_column(at6), b = first_shaded_column(at15);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_GT(b - a, 150) << "fine-tune region should start later when the phase changes later";
  // The later phase is shaded, the earlier one is not: less shading when fine-tuning starts later.
  EXPECT_GT(count_color(at6, kPhaseShade, 2), count_color(at15, kPhaseShade, 2));
}

TEST(Curves, OneEpochShowsItsPoints) {
  cv::Mat img = decode_bgr(curves_png(synthetic_history(1, 1), "one epoch"));
  ASSERT_EQ(img.cols, 1200);
  for (int half = 0; half < 2; ++half) {
    Frame f = find_frame(img, half * 600, half * 600 + 600);
    ASSERT_GT(f.top, 0);
    cv::Rect plot(half * 600, f.top + 1, 600, f.bottom - f.top - 1);
    EXPECT_GT(count_color(img, kTrainBlue, 30, plot), 15) << "training point missing in panel " << half;
    EXPECT_GT(count_color(img, kValOrange, 30, plot), 10) << "validation point missing in panel " << half;
  }
}

TEST(Curves, ManyEpochsAndEmptyHistoryRender) {
  cv::Mat many = decode_bgr(curves_png(synthetic_history(500, 321), "500 epochs"));
  EXPECT_EQ(many.cols, 1200);
  Frame f = find_frame(many, 600, 1200);
  ASSERT_GT(f.top, 0);
  EXPECT_GT(count_color(many, kTrainBlue, 25, cv::Rect(600, f.top + 1, 600, f.bottom - f.top - 1)), 300);
  EXPECT_GT(best_line_column(many), 0);
  cv::Mat empty = decode_bgr(curves_png({}, "nothing yet"));
  EXPECT_EQ(empty.cols, 1200);
  EXPECT_EQ(best_line_column(empty), -1);
}

TEST(Curves, NanLossesLeaveGapsAndMarkersInsteadOfFailing) {
  History h = synthetic_history(12, 9);
  h[0].val_loss = NAN;  // NaN first: must not be picked as "best"
  h[4].train_loss = NAN;
  h[5].val_loss = std::numeric_limits<double>::infinity();
  h[5].val_accuracy = NAN;
  EXPECT_EQ(best_finite_epoch_index(h), 8);
  cv::Mat img = decode_bgr(curves_png(h, "with NaN"));
  Frame f = find_frame(img, 600, 1200);
  ASSERT_GT(f.top, 0);
  // Crosses for the non-finite epochs sit in a band just under the top of the plot.
  cv::Rect band(600, f.top + 2, 600, 16);
  EXPECT_GT(count_color(img, kValOrange, 40, band), 10) << "no NaN marker for the validation loss";
  EXPECT_GT(count_color(img, kTrainBlue, 40, band), 10) << "no NaN marker for the training loss";
  cv::Mat clean = decode_bgr(curves_png(synthetic_history(12, 9), "clean"));
  Frame g = find_frame(clean, 600, 1200);
  EXPECT_EQ(count_color(clean, kValOrange, 40, cv::Rect(600, g.top + 2, 600, 16)), 0);
  EXPECT_GT(best_line_column(img), 0);

  History all_nan = synthetic_history(5, 2);
  for (auto& r : all_nan) r.train_loss = r.val_loss = r.train_accuracy = r.val_accuracy = NAN;
  EXPECT_EQ(best_finite_epoch_index(all_nan), -1);
  EXPECT_EQ(decode_bgr(curves_png(all_nan, "all NaN")).cols, 1200);
}

TEST(Curves, BestFiniteEpochMatchesBestEpochIndexWithoutNan) {
  for (int best : {1, 4, 7}) {
    History h = synthetic_history(7, best);
    EXPECT_EQ(best_finite_epoch_index(h), best_epoch_index(h));
    EXPECT_EQ(best_finite_epoch_index(h), best - 1);
  }
  EXPECT_EQ(best_finite_epoch_index({}), -1);
}

TEST(Curves, SvgIsTheSameDrawingInPixels) {
  std::string svg = curves_svg(synthetic_history(8, 4), "svg");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("width=\"1200px\""), std::string::npos);
  EXPECT_NE(svg.find("height=\"480px\""), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("rgb(17.254902%,62.745098%,17.254902%)"), std::string::npos) << "best-epoch green not drawn";
}

TEST(Curves, WritesFilesAtomically) {
  TempDir dir("imagefit-curves");
  auto png = dir.path() / "sub" / "curves.png";
  write_curves_png(synthetic_history(5, 3), "t", png.string());
  cv::Mat img = cv::imread(png.string());
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.cols, 1200);
  EXPECT_EQ(test::temp_files_in(png.parent_path()), 0);
  auto svg = dir.path() / "curves.svg";
  write_curves_svg(synthetic_history(5, 3), "t", svg.string());
  EXPECT_NE(read_file(svg).find("<svg"), std::string::npos);
}

TEST(Curves, UnwritableTargetIsAnErrorAndLeavesNothing) {
  TempDir dir("imagefit-curves");
  // A regular file where the parent folder should be: nothing can be created under it (even as root).
  auto blocker = dir.path() / "not-a-dir";
  atomic_write_text(blocker, "x");
  auto target = blocker / "curves.png";
  try {
    write_curves_png(synthetic_history(3, 2), "t", target.string());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("curves.png"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(blocker), "x");
  // The target is an existing folder: the temporary file is written, the rename fails, and the
  // temporary file must be cleaned up.
  auto folder = dir.path() / "curves-folder.png";
  std::filesystem::create_directories(folder / "inside");
  EXPECT_THROW(write_curves_png(synthetic_history(3, 2), "t", folder.string()), Error);
  EXPECT_TRUE(std::filesystem::is_directory(folder));
  EXPECT_EQ(test::temp_files_in(dir.path()), 0);
  // A read-only folder (only meaningful when not running as root, who may write anyway).
  if (::geteuid() != 0) {
    auto ro = dir.path() / "ro";
    std::filesystem::create_directories(ro);
    std::filesystem::permissions(ro, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    EXPECT_THROW(write_curves_png(synthetic_history(3, 2), "t", (ro / "c.png").string()), Error);
    std::filesystem::permissions(ro, std::filesystem::perms::owner_all);
    EXPECT_TRUE(std::filesystem::is_empty(ro));
  }
}

}  // namespace
}  // namespace imagefit

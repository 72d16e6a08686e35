#include "report/image_grid.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "report_test_util.h"

namespace imagefit {
namespace {

using test::count_color;
using test::decode_bgr;

constexpr uint32_t kMistakeRed = 0xd62728;

// Solid RGB image of colour 0xRRGGBB.
cv::Mat solid(int w, int h, uint32_t rgb) {
  return cv::Mat(h, w, CV_8UC3, cv::Scalar((rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff));
}

// Bounding box of the pixels exactly of colour `rgb`.
cv::Rect bbox_of(const cv::Mat& bgr, uint32_t rgb) {
  cv::Mat mask;
  cv::inRange(bgr, cv::Scalar(rgb & 0xff, (rgb >> 8) & 0xff, (rgb >> 16) & 0xff),
              cv::Scalar(rgb & 0xff, (rgb >> 8) & 0xff, (rgb >> 16) & 0xff), mask);
  return cv::boundingRect(mask);
}

const uint32_t kColors[] = {0x00a050, 0x2040e0, 0xe0c000, 0x9020b0, 0x00c0c0, 0x805000, 0x30e030, 0xf08080};

TEST(ImageGrid, DrawsOneLetterboxedThumbnailPerCell) {
  // Different aspect ratios: wide, tall, square.
  const cv::Size sizes[] = {{200, 100}, {100, 200}, {150, 150}, {320, 80}, {60, 90}, {500, 500}, {37, 41}};
  std::vector<GridCell> cells;
  for (int i = 0; i < 7; ++i) cells.push_back({solid(sizes[i].width, sizes[i].height, kColors[i]), "c" + std::to_string(i), "", false});
  const int cell = 100;
  cv::Mat img = decode_bgr(image_grid_png(cells, 4, cell, "grid"));
  GridLayout L = image_grid_layout(cells, 4, cell, "grid");
  ASSERT_EQ(img.cols, L.width);
  ASSERT_EQ(img.rows, L.height);
  EXPECT_EQ(L.rows, 2);
  EXPECT_EQ(L.columns, 4);
  int found = 0;
  for (int i = 0; i < 7; ++i) {
    cv::Rect box = bbox_of(img, kColors[i]);
    if (box.area() == 0) continue;
    ++found;
    // Aspect ratio kept, longer side fills the cell.
    double want = double(sizes[i].width) / sizes[i].height, got = double(box.width) / box.height;
    EXPECT_NEAR(got, want, want * 0.06) << "cell " << i;
    EXPECT_EQ(std::max(box.width, box.height), cell) << "cell " << i;
    EXPECT_EQ(count_color(img, kColors[i], 0), box.area()) << "cell " << i << " is not one solid block";
    // Row-major placement.
    int col = i % 4, row = i / 4;
    EXPECT_GE(box.x, L.left + col * (L.cell_width + L.gap));
    EXPECT_LE(box.x + box.width, L.left + col * (L.cell_width + L.gap) + cell);
    EXPECT_GE(box.y, L.top + row * (L.cell_height + L.gap));
  }
  EXPECT_EQ(found, 7);
  EXPECT_EQ(count_color(img, kColors[7], 0), 0);
  EXPECT_EQ(count_color(img, kMistakeRed, 0), 0) << "red drawn without a highlighted cell";
  // The eighth slot is empty: pure white.
  cv::Rect empty(L.left + 3 * (L.cell_width + L.gap), L.top + (L.cell_height + L.gap), cell, cell);
  EXPECT_EQ(count_color(img, 0xffffff, 0, empty), empty.area());
}

TEST(ImageGrid, SizeFollowsRowsAndColumns) {
  auto cells_of = [](int n) {
    std::vector<GridCell> v;
    for (int i = 0; i < n; ++i) v.push_back({solid(50, 50, kColors[i % 8]), "caption", "file.jpg", false});
    return v;
  };
  cv::Mat eight = decode_bgr(image_grid_png(cells_of(8), 4, 120, "Augmentation preview"));
  cv::Mat seven = decode_bgr(image_grid_png(cells_of(7), 4, 120, "Augmentation preview"));
  cv::Mat four = decode_bgr(image_grid_png(cells_of(4), 4, 120, "Augmentation preview"));
  cv::Mat two = decode_bgr(image_grid_png(cells_of(2), 4, 120, ""));
  EXPECT_EQ(eight.size(), seven.size());
  EXPECT_EQ(four.cols, eight.cols);
  EXPECT_GT(eight.rows, four.rows + 120);
  EXPECT_GE(eight.cols, 4 * 120);
  EXPECT_LT(two.cols, four.cols) << "fewer cells than columns narrows the grid";
  // Captions: dark text under each thumbnail.
  GridLayout L = image_grid_layout(cells_of(4), 4, 120, "Augmentation preview");
  EXPECT_EQ(L.caption_lines, 1);
  for (int c = 0; c < 4; ++c) {
    cv::Rect caption(L.left + c * (L.cell_width + L.gap), L.top + 120 + 2, 120, L.cell_height - 122);
    EXPECT_GT(count_color(four, 0x222222, 80, caption), 20) << "no caption under cell " << c;
  }
}

TEST(ImageGrid, HighlightedCellsGetARedFrame) {
  std::vector<GridCell> cells{{solid(80, 60, kColors[0]), "true: cat / pred: dog 0.91", "cat.1.jpg", true},
                              {solid(80, 60, kColors[1]), "true: dog / pred: dog 0.99", "dog.7.jpg", false}};
  cv::Mat img = decode_bgr(image_grid_png(cells, 2, 140, "mistakes"));
  GridLayout L = image_grid_layout(cells, 2, 140, "mistakes");
  cv::Rect first(L.left - 4, L.top - 4, 148, L.cell_height + 4);
  cv::Rect second(L.left + L.cell_width + L.gap - 4, L.top - 4, 148, L.cell_height + 4);
  EXPECT_GT(count_color(img, kMistakeRed, 0, first), 4 * 130) << "no red frame around the mistake";
  EXPECT_EQ(count_color(img, kMistakeRed, 60, second), 0) << "red on a correct prediction";
  EXPECT_GE(L.caption_lines, 1);
}

TEST(ImageGrid, AcceptsGrayRgbaFloatAndMissingImages) {
  cv::Mat gray(40, 40, CV_8UC1, cv::Scalar(128));
  cv::Mat rgba(40, 40, CV_8UC4, cv::Scalar(0x20, 0x40, 0xe0, 255));
  cv::Mat f(40, 40, CV_32FC3, cv::Scalar(0.0, 0.627451, 0.313725));  // RGB (0, 160, 80) in [0, 1]
  std::vector<GridCell> cells{{gray, "gray", "", false}, {rgba, "rgba", "", false}, {f, "float", "", false},
                              {cv::Mat(), "missing", "", false}};
  cv::Mat img = decode_bgr(image_grid_png(cells, 4, 64, ""));
  EXPECT_GT(count_color(img, 0x808080, 0), 60 * 60);
  EXPECT_GT(count_color(img, 0x2040e0, 0), 60 * 60);
  EXPECT_GT(count_color(img, 0x00a050, 1), 60 * 60);
}

TEST(ImageGrid, RejectsBadArguments) {
  std::vector<GridCell> cells{{solid(10, 10, kColors[0]), "", "", false}};
  EXPECT_THROW(image_grid_png(cells, 0, 100, ""), Error);
  EXPECT_THROW(image_grid_png(cells, 3, 4, ""), Error);
  EXPECT_NO_THROW(image_grid_png({}, 3, 100, "no mistakes"));
}

TEST(ImageGrid, EncodesThumbnailsForDataUris) {
  cv::Mat rgb = solid(300, 150, 0x2040e0);
  rgb(cv::Rect(0, 0, 10, 10)).setTo(cv::Scalar(255, 0, 0));  // red corner, RGB order
  cv::Mat png = cv::imdecode(encode_rgb_png(rgb), cv::IMREAD_COLOR);
  ASSERT_EQ(png.size(), rgb.size());
  EXPECT_EQ(png.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 255));      // BGR: red stays red
  EXPECT_EQ(png.at<cv::Vec3b>(100, 200), cv::Vec3b(0xe0, 0x40, 0x20));
  cv::Mat small = cv::imdecode(encode_rgb_jpeg(rgb, 120), cv::IMREAD_COLOR);
  EXPECT_EQ(small.cols, 120);
  EXPECT_EQ(small.rows, 60);
  EXPECT_THROW(encode_rgb_png(cv::Mat()), Error);
}

TEST(ImageGrid, WritesAtomically) {
  TempDir dir("imagefit-grid");
  std::vector<GridCell> cells{{solid(10, 10, kColors[0]), "a", "", false}};
  auto path = dir.path() / "grid.png";
  write_image_grid_png(cells, 4, 64, "t", path.string());
  EXPECT_FALSE(cv::imread(path.string()).empty());
  atomic_write_text(dir.path() / "file", "x");
  EXPECT_THROW(write_image_grid_png(cells, 4, 64, "t", (dir.path() / "file" / "g.png").string()), Error);
  std::filesystem::create_directories(dir.path() / "dir.png" / "x");
  EXPECT_THROW(write_image_grid_png(cells, 4, 64, "t", (dir.path() / "dir.png").string()), Error);
  EXPECT_EQ(test::temp_files_in(dir.path()), 0);
}

}  // namespace
}  // namespace imagefit

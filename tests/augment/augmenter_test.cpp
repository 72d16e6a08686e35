// The augmenter on synthetic images with known answers: where markers go, how borders fill, which
// ranges the random draws stay in, and that the same seed gives the same image.
#include <cmath>
#include <cstdio>
#include <set>

#include <opencv2/imgproc.hpp>

#include "augment/augmenter.h"
#include "core/error.h"
#include "core/parallel.h"
#include "test_support.h"

namespace imagefit {
namespace {

Rng seeded(uint64_t i) { return Rng(mix_seed({0xA06u, i})); }

// A textured, asymmetric RGB image (so flips and shifts are visible everywhere).
cv::Mat pattern(int w, int h, uint64_t seed = 1) {
  cv::Mat img(h, w, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(img, cv::RNG::UNIFORM, 0, 256);
  cv::rectangle(img, cv::Rect(w / 8, h / 6, w / 3, h / 4), cv::Scalar(250, 20, 20), cv::FILLED);
  return img;
}

// A Gaussian spot centred at (x, y) on black.
cv::Mat spot(int w, int h, double x, double y, double sigma) {
  cv::Mat img(h, w, CV_8UC3);
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) {
      const double v = 255 * std::exp(-((c - x) * (c - x) + (r - y) * (r - y)) / (2 * sigma * sigma));
      img.at<cv::Vec3b>(r, c) = cv::Vec3b::all(cv::saturate_cast<uchar>(v));
    }
  return img;
}

cv::Mat gray_of(const cv::Mat& rgb) {
  cv::Mat g;
  cv::cvtColor(rgb, g, cv::COLOR_RGB2GRAY);
  return g;
}

cv::Point2d centroid(const cv::Mat& rgb) {
  const cv::Moments m = cv::moments(gray_of(rgb));
  return {m.m10 / m.m00, m.m01 / m.m00};
}

bool identical(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

AugmentParams params(const std::string& spec) { return parse_augment(spec); }

TEST(Augmenter, NoAugmentationIsThePlainResize) {
  const cv::Mat img = pattern(300, 200);
  for (cv::Size out : {cv::Size(180, 180), cv::Size(100, 50), cv::Size(400, 320), cv::Size(300, 200)}) {
    const Augmenter aug(params("none"), out.width, out.height);
    Rng rng = seeded(1);
    const cv::Mat result = aug.apply(img, rng);
    EXPECT_TRUE(identical(result, resize_for_network(img, out.width, out.height))) << out;
    cv::Mat reference;
    const bool shrinking = out.width < img.cols || out.height < img.rows;
    cv::resize(img, reference, out, 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    EXPECT_TRUE(identical(result, reference)) << out;
  }
  // Photometric-only augmentation also starts from the plain resize: brightness factor 1 changes nothing.
  const Augmenter aug(params("none"), 90, 60);
  AugmentDraw d;
  EXPECT_TRUE(identical(aug.apply(img, d), resize_for_network(img, 90, 60)));
}

TEST(Augmenter, HorizontalFlipMirrorsExactly) {
  const cv::Mat img = pattern(160, 120);
  for (cv::Size out : {cv::Size(160, 120), cv::Size(80, 60)}) {
    const Augmenter aug(params("horizontal_flip=true"), out.width, out.height);
    const cv::Mat plain = resize_for_network(img, out.width, out.height);
    cv::Mat mirrored;
    cv::flip(plain, mirrored, 1);
    int flips = 0;
    for (uint64_t i = 0; i < 200; ++i) {
      Rng rng = seeded(i);
      const cv::Mat result = aug.apply(img, rng);
      const bool is_plain = identical(result, plain), is_mirror = identical(result, mirrored);
      ASSERT_TRUE(is_plain || is_mirror) << "draw " << i;
      flips += is_mirror;
      if (is_mirror) {  // pixel by pixel: column x comes from column w-1-x
        EXPECT_EQ(result.at<cv::Vec3b>(7, 0), plain.at<cv::Vec3b>(7, out.width - 1));
      }
    }
    EXPECT_GT(flips, 70);
    EXPECT_LT(flips, 130);
  }
  const Augmenter both(params("vertical_flip=true"), 160, 120);
  cv::Mat upside_down;
  cv::flip(img, upside_down, 0);
  bool seen = false;
  for (uint64_t i = 0; i < 20 && !seen; ++i) {
    Rng rng = seeded(i);
    seen = identical(both.apply(img, rng), upside_down);
  }
  EXPECT_TRUE(seen);
}

TEST(Augmenter, RotationStaysWithinRange) {
  // A horizontal bar through the centre; its principal axis after augmentation is the rotation angle.
  const int n = 121;
  cv::Mat img(n, n, CV_8UC3, cv::Scalar::all(0));
  cv::line(img, cv::Point(20, 60), cv::Point(100, 60), cv::Scalar::all(255), 3);
  for (double range : {30.0, 5.0}) {
    const Augmenter aug(params("fill_mode=constant,rotation_range=" + std::to_string(range)), n, n);
    double lo = 0, hi = 0;
    for (uint64_t i = 0; i < 300; ++i) {
      Rng rng = seeded(i);
      const AugmentDraw d = aug.draw(img.size(), rng);
      const cv::Moments m = cv::moments(gray_of(aug.apply(img, d)));
      const double angle = 0.5 * std::atan2(2 * m.mu11, m.mu20 - m.mu02) * 180 / M_PI;
      ASSERT_LE(std::abs(angle), range + 0.5) << "draw " << i;
      // Keras direction: positive theta turns the picture clockwise on screen (y down).
      EXPECT_NEAR(angle, d.rotation, 0.5) << "draw " << i;
      lo = std::min(lo, angle);
      hi = std::max(hi, angle);
    }
    EXPECT_LT(lo, -0.85 * range);  // the draws cover the range
    EXPECT_GT(hi, 0.85 * range);
  }
}

TEST(Augmenter, ShiftAndZoomMoveAMarkerWhereTheMatrixSays) {
  const int w = 100, h = 80;
  const double mx = 40, my = 35;
  const cv::Mat img = spot(w, h, mx, my, 2.0);
  // Same size, then half size (the resize folded into the warp, with the box prefilter for zoom > 1).
  for (int scale : {1, 2}) {
    const int ow = w / scale, oh = h / scale;
    const Augmenter aug(params("fill_mode=constant,width_shift_range=0.2,height_shift_range=0.1,zoom_range=0.2"), ow, oh);
    double max_shift_x = 0;
    for (uint64_t i = 0; i < 100; ++i) {
      Rng rng = seeded(i);
      const AugmentDraw d = aug.draw(img.size(), rng);
      ASSERT_LE(std::abs(d.shift_x), 0.2 * ow);
      ASSERT_LE(std::abs(d.shift_y), 0.1 * oh);
      ASSERT_TRUE(d.zoom_x >= 0.8 && d.zoom_x <= 1.2 && d.zoom_y >= 0.8 && d.zoom_y <= 1.2);
      max_shift_x = std::max(max_shift_x, std::abs(d.shift_x));
      // Keras: output pixel o samples the (resized) input at c + zoom * (o - c) + shift, c the centre.
      const double cx = (ow - 1) / 2.0, cy = (oh - 1) / 2.0;
      const double vx = (mx + 0.5) / scale - 0.5, vy = (my + 0.5) / scale - 0.5;  // marker in the resized input
      const cv::Point2d expected(cx + (vx - cx - d.shift_x) / d.zoom_x, cy + (vy - cy - d.shift_y) / d.zoom_y);
      const cv::Point2d found = centroid(aug.apply(img, d));
      EXPECT_NEAR(found.x, expected.x, 0.3) << "draw " << i;
      EXPECT_NEAR(found.y, expected.y, 0.3) << "draw " << i;
      // And the matrix maps that output point back onto the marker.
      const cv::Matx23d m = aug.source_from_output(d, img.size());
      EXPECT_NEAR(m(0, 0) * expected.x + m(0, 1) * expected.y + m(0, 2), mx, 1e-9);
      EXPECT_NEAR(m(1, 0) * expected.x + m(1, 1) * expected.y + m(1, 2), my, 1e-9);
    }
    EXPECT_GT(max_shift_x, 0.15 * ow);
  }
  // Shifts >= 1 are pixels (Keras), not fractions.
  const Augmenter pixels(params("width_shift_range=5"), 100, 100);
  for (uint64_t i = 0; i < 50; ++i) {
    Rng rng = seeded(i);
    EXPECT_LE(std::abs(pixels.draw(cv::Size(100, 100), rng).shift_x), 5.0);
  }
}

TEST(Augmenter, ShearFollowsKeras) {
  // Keras shear matrix in (row, col): [[1, -sin s, 0], [0, cos s, 0]]: a point's column scales by cos s and
  // its row moves by -sin s times its column (measured from the centre).
  const int n = 101;
  const cv::Mat img = spot(n, n, 70, 50, 2.0);
  const Augmenter aug(params("fill_mode=constant"), n, n);
  AugmentDraw d;
  d.shear = 20;
  const double s = d.shear * M_PI / 180;
  const double c = 50, dx = 70 - c;  // marker at +20 columns from the centre, on the centre row
  // Output o maps to input: x_in = c + cos(s) (x - c), y_in = y - sin(s) (x - c).
  const double x_out = c + dx / std::cos(s), y_out = c + std::sin(s) * (x_out - c);
  const cv::Point2d found = centroid(aug.apply(img, d));
  EXPECT_NEAR(found.x, x_out, 0.3);
  EXPECT_NEAR(found.y, y_out, 0.3);
}

// Where scipy.ndimage (as Keras calls it) reads for an index outside [0, n): reference written from
// the scipy documentation of each mode.
int scipy_index(int i, int n, FillMode mode) {
  switch (mode) {
    case FillMode::Nearest: return std::clamp(i, 0, n - 1);                   // a a a | a b c d | d d d
    case FillMode::Reflect: {                                                  // d c b a | a b c d | d c b a
      const int k = ((i % (2 * n)) + 2 * n) % (2 * n);
      return k < n ? k : 2 * n - 1 - k;
    }
    case FillMode::Wrap: return ((i % n) + n) % n;                             // a b c d | a b c d | a b c d
    case FillMode::Constant: return (i >= 0 && i < n) ? i : -1;                // k k k k | a b c d | k k k k
  }
  return -1;
}

TEST(Augmenter, DownscalingWarpDoesNotAlias) {
  // One-pixel black/white stripes shrunk 4x: the area average is flat gray everywhere. A bare bilinear
  // warp would sample stripes at beat positions (moire from 0 to 255); the box prefilter keeps it flat.
  cv::Mat stripes(400, 400, CV_8UC3);
  for (int x = 0; x < 400; ++x) stripes.col(x).setTo(cv::Scalar::all(x % 2 ? 255 : 0));
  const Augmenter aug(params("none"), 96, 96);
  AugmentDraw d;
  d.shift_x = 0.3;  // any geometry takes the warp path
  d.rotation = 2;
  const cv::Mat out = aug.apply(stripes, d);
  double lo, hi;
  cv::minMaxLoc(out.reshape(1), &lo, &hi);
  EXPECT_GE(lo, 127.5 - 4);
  EXPECT_LE(hi, 127.5 + 4);
}

TEST(Augmenter, FillModesFillAsScipyDoes) {
  const int n = 8;
  cv::Mat img(n, n, CV_8UC3);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) img.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(x * 20 + 5), uchar(y * 20 + 7), uchar(x + 8 * y));
  for (FillMode mode : {FillMode::Nearest, FillMode::Constant, FillMode::Reflect, FillMode::Wrap}) {
    AugmentParams p;
    p.fill_mode = mode;
    p.cval = 77;
    const Augmenter aug(p, n, n);
    for (auto [sx, sy] : std::vector<std::pair<int, int>>{{3, 0}, {-3, 0}, {0, 5}, {-2, -6}, {11, 0}, {-13, 9}}) {
      AugmentDraw d;
      d.shift_x = sx;  // output (x, y) reads input (x + sx, y + sy)
      d.shift_y = sy;
      const cv::Mat out = aug.apply(img, d);
      for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
          const int ix = scipy_index(x + sx, n, mode), iy = scipy_index(y + sy, n, mode);
          const cv::Vec3b expected = (ix < 0 || iy < 0) ? cv::Vec3b::all(77) : img.at<cv::Vec3b>(iy, ix);
          ASSERT_EQ(out.at<cv::Vec3b>(y, x), expected)
              << to_string(mode) << " shift " << sx << "," << sy << " at " << x << "," << y;
        }
    }
  }
}

TEST(Augmenter, RandomResizedCropStaysInRange) {
  const cv::Size source(400, 300);
  const Augmenter aug(params("random_resized_crop=true"), 224, 224);  // scale 0.08..1, ratio 3/4..4/3
  double min_area = 1, max_area = 0, sum_area = 0;
  for (uint64_t i = 0; i < 2000; ++i) {
    Rng rng = seeded(i);
    const cv::Rect2d c = aug.draw(source, rng).crop;
    ASSERT_GE(c.x, 0);
    ASSERT_GE(c.y, 0);
    ASSERT_LE(c.x + c.width, source.width);
    ASSERT_LE(c.y + c.height, source.height);
    ASSERT_EQ(c.x, std::floor(c.x));  // integer pixel crops, as torchvision
    const double area = c.area() / source.area(), ratio = c.width / c.height;
    // Integer rounding of w and h (>= 98 px here) moves these by under 2%.
    ASSERT_GE(area, 0.08 * 0.98) << i;
    ASSERT_LE(area, 1.0) << i;
    ASSERT_GE(ratio, 0.75 * 0.98) << i;
    ASSERT_LE(ratio, 4.0 / 3.0 * 1.02) << i;
    min_area = std::min(min_area, area);
    max_area = std::max(max_area, area);
    sum_area += area;
  }
  EXPECT_LT(min_area, 0.1);
  EXPECT_GT(max_area, 0.9);
  // Uniform in [0.08, 1] before big crops that do not fit are rejected (torchvision: mean 0.435 here).
  EXPECT_GT(sum_area / 2000, 0.35);
  EXPECT_LT(sum_area / 2000, 0.55);
}

TEST(Augmenter, RandomResizedCropMatchesTorchvisionStatistics) {
  // torchvision's own RandomResizedCrop.get_params on the same image size, as the reference.
  const char* script =
      "import torch, torchvision.transforms as T\n"
      "from PIL import Image\n"
      "img = Image.new('RGB', (400, 300)); torch.manual_seed(0); a = r = 0.0; n = 20000\n"
      "for _ in range(n):\n"
      "    i, j, h, w = T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3)); a += h * w / 120000; r += w / h\n"
      "print(a / n, r / n)\n";
  const auto result = test::run_command("/usr/bin/python3 -c \"" + std::string(script) + "\" 2>&1");
  if (result.exit_code != 0) GTEST_SKIP() << "skipped: /usr/bin/python3 with torchvision not usable: " << result.output;
  double ref_area = 0, ref_ratio = 0;
  ASSERT_EQ(std::sscanf(result.output.c_str(), "%lf %lf", &ref_area, &ref_ratio), 2) << result.output;
  const Augmenter aug(params("random_resized_crop=true"), 224, 224);
  const int n = 20000;
  double area = 0, ratio = 0;
  for (int i = 0; i < n; ++i) {
    Rng rng = seeded(i);
    const cv::Rect2d c = aug.draw(cv::Size(400, 300), rng).crop;
    area += c.area() / 120000;
    ratio += c.width / c.height;
  }
  EXPECT_NEAR(area / n, ref_area, 0.01);  // standard error of each mean is about 0.002
  EXPECT_NEAR(ratio / n, ref_ratio, 0.01);
}

TEST(Augmenter, RandomResizedCropFallsBackToTheCenterCrop) {
  // No crop of 90-100% area with aspect 3..4 fits a square: torchvision's fallback is the centre crop
  // with the ratio clamped to the nearest bound (w = 100, h = round(100 / 3)).
  const Augmenter aug(params("random_resized_crop=0.9:1,crop_ratio=3:4"), 60, 20);
  Rng rng = seeded(3);
  const cv::Rect2d c = aug.draw(cv::Size(100, 100), rng).crop;
  EXPECT_EQ(c, cv::Rect2d(0, 33, 100, 33));
  const Augmenter tall(params("random_resized_crop=0.9:1,crop_ratio=0.2:0.25"), 20, 60);
  EXPECT_EQ(tall.draw(cv::Size(100, 100), rng).crop, cv::Rect2d(37, 0, 25, 100));
}

TEST(Augmenter, CropAtOutputSizeIsTheSourceRegion) {
  const cv::Mat img = pattern(100, 90);
  const Augmenter aug(params("random_resized_crop=true"), 50, 40);
  AugmentDraw d;
  d.crop = cv::Rect2d(10, 20, 50, 40);
  EXPECT_TRUE(identical(aug.apply(img, d), img(cv::Rect(10, 20, 50, 40))));
}

TEST(Augmenter, ColorJitterBrightnessFactorStaysInRange) {
  const cv::Mat img(6, 6, CV_8UC3, cv::Scalar::all(100));
  const Augmenter aug(params("jitter_brightness=0.5"), 6, 6);
  double lo = 10, hi = 0;
  for (uint64_t i = 0; i < 500; ++i) {
    Rng rng = seeded(i);
    const AugmentDraw d = aug.draw(img.size(), rng);
    const cv::Mat out = aug.apply(img, d);
    const double measured = out.at<cv::Vec3b>(2, 3)[1] / 100.0;
    ASSERT_NEAR(measured, d.jitter_brightness, 0.006);
    ASSERT_GE(measured, 0.5 - 0.006);
    ASSERT_LE(measured, 1.5 + 0.006);
    lo = std::min(lo, measured);
    hi = std::max(hi, measured);
  }
  EXPECT_LT(lo, 0.55);
  EXPECT_GT(hi, 1.45);
}

TEST(Augmenter, ColorJitterOpsHaveTorchvisionMeaning) {
  const Augmenter aug(params("none"), 4, 2);
  cv::Mat red(2, 4, CV_8UC3, cv::Scalar(255, 0, 0));
  AugmentDraw hue;
  hue.jitter_hue = 1.0 / 3;  // a third of the hue circle: red -> green
  EXPECT_LE(cv::norm(aug.apply(red, hue), cv::Mat(2, 4, CV_8UC3, cv::Scalar(0, 255, 0)), cv::NORM_INF), 1);

  cv::Mat two(2, 4, CV_8UC3, cv::Scalar(200, 100, 50));
  two(cv::Rect(0, 0, 2, 2)).setTo(cv::Scalar(20, 40, 60));
  AugmentDraw gray;
  gray.jitter_saturation = 0;  // saturation 0 = grayscale
  const cv::Mat g = aug.apply(two, gray);
  EXPECT_NEAR(g.at<cv::Vec3b>(0, 3)[0], 0.2989 * 200 + 0.587 * 100 + 0.114 * 50, 0.51);
  EXPECT_EQ(g.at<cv::Vec3b>(0, 3)[0], g.at<cv::Vec3b>(0, 3)[2]);
  AugmentDraw flat;
  flat.jitter_contrast = 0;  // contrast 0 = the mean gray everywhere
  const double mean_gray = (0.2989 * 200 + 0.587 * 100 + 0.114 * 50 + 0.2989 * 20 + 0.587 * 40 + 0.114 * 60) / 2;
  const cv::Mat f = aug.apply(two, flat);
  EXPECT_NEAR(f.at<cv::Vec3b>(1, 0)[1], mean_gray, 0.51);
  EXPECT_NEAR(f.at<cv::Vec3b>(0, 3)[2], mean_gray, 0.51);
}

TEST(Augmenter, KerasChannelShiftAndBrightness) {
  const Augmenter aug(params("none"), 2, 1);
  cv::Mat img(1, 2, CV_8UC3);
  img.at<cv::Vec3b>(0, 0) = cv::Vec3b(10, 100, 200);
  img.at<cv::Vec3b>(0, 1) = cv::Vec3b(30, 60, 90);
  AugmentDraw d;
  d.channel_shift = 50;  // one offset for every channel, clipped to the image's min..max (10..200)
  const cv::Mat s = aug.apply(img, d);
  EXPECT_EQ(s.at<cv::Vec3b>(0, 0), cv::Vec3b(60, 150, 200));
  EXPECT_EQ(s.at<cv::Vec3b>(0, 1), cv::Vec3b(80, 110, 140));
  AugmentDraw b;
  b.brightness = 1.5;
  EXPECT_EQ(aug.apply(img, b).at<cv::Vec3b>(0, 0), cv::Vec3b(15, 150, 255));
}

TEST(Augmenter, SameSeedSameImage) {
  const cv::Mat img = pattern(257, 193, 9);
  for (const char* spec : {"keras-tutorial", "strong", "d2l-hotdog", "light,channel_shift_range=30,brightness_range=0.5:1.5,"
                                                                     "blur_probability=1,noise_std=0.05"}) {
    const Augmenter aug(params(spec), 180, 180);
    Rng a = seeded(42), b = seeded(42), c = seeded(43);
    const cv::Mat first = aug.apply(img, a), second = aug.apply(img, b), other = aug.apply(img, c);
    ASSERT_EQ(first.size(), cv::Size(180, 180));
    ASSERT_EQ(first.type(), CV_8UC3);
    EXPECT_TRUE(identical(first, second)) << spec;
    EXPECT_FALSE(identical(first, other)) << spec;
    // The rng advances: the next image of the same stream differs.
    EXPECT_FALSE(identical(aug.apply(img, a), first)) << spec;
  }
}

TEST(Augmenter, ParallelGivesTheSameImagesAsSerial) {
  const cv::Mat img = pattern(300, 240, 4);
  const Augmenter aug(params("strong,rotation_range=40,noise_std=0.03,blur_probability=0.5"), 96, 96);
  const size_t n = 32;
  std::vector<cv::Mat> serial(n), parallel(n);
  for (size_t i = 0; i < n; ++i) {
    Rng rng = seeded(i);
    serial[i] = aug.apply(img, rng);
  }
  parallel_for(n, 4, [&](size_t i) {
    Rng rng = seeded(i);
    parallel[i] = aug.apply(img, rng);
  });
  for (size_t i = 0; i < n; ++i) EXPECT_TRUE(identical(serial[i], parallel[i])) << i;
}

TEST(Augmenter, OutputSizeAndBadInput) {
  const Augmenter aug(params("strong"), 64, 48);
  Rng rng = seeded(0);
  const cv::Mat out = aug.apply(pattern(31, 17), rng);  // enlarging, tiny source
  EXPECT_EQ(out.size(), cv::Size(64, 48));
  EXPECT_THROW(aug.apply(cv::Mat(), rng), Error);
  EXPECT_THROW(aug.apply(cv::Mat(10, 10, CV_8UC1, cv::Scalar(0)), rng), Error);
  EXPECT_THROW(Augmenter(params("none"), 0, 10), Error);
}

TEST(EvalTransform, ResizeShorterSideThenCenterCrop) {
  const cv::Mat img = pattern(400, 300);
  const cv::Mat out = resize_shorter_center_crop(img, 256, 224, 224);
  ASSERT_EQ(out.size(), cv::Size(224, 224));
  // torchvision: Resize(256) -> 341x256 (int(256 * 400 / 300)), CenterCrop(224): left round(58.5) = 58, top 16.
  const cv::Mat resized = resize_for_network(img, 341, 256);
  EXPECT_TRUE(identical(out, resized(cv::Rect(58, 16, 224, 224))));
  // Portrait: the width is the shorter side.
  EXPECT_EQ(resize_shorter_center_crop(pattern(300, 500), 100, 80, 90).size(), cv::Size(80, 90));
}

TEST(EvalTransform, CenterCropPadsWithZeros) {
  const cv::Mat img = pattern(10, 10);
  const cv::Mat out = center_crop(img, 14, 12);  // pads 2 left, 2 right, 1 top, 1 bottom
  ASSERT_EQ(out.size(), cv::Size(14, 12));
  EXPECT_EQ(out.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(out.at<cv::Vec3b>(1, 2), img.at<cv::Vec3b>(0, 0));
  EXPECT_EQ(out.at<cv::Vec3b>(10, 11), img.at<cv::Vec3b>(9, 9));
  EXPECT_TRUE(identical(center_crop(img, 4, 6), img(cv::Rect(3, 2, 4, 6))));
}

// --resize: what the cache holds and prediction feeds, for each mode.
TEST(EvalTransform, ResizeToInputModes) {
  // 300x100: a red left third, a green center square, a blue right third.
  cv::Mat wide(100, 300, CV_8UC3, cv::Scalar(255, 0, 0));
  wide(cv::Rect(100, 0, 100, 100)).setTo(cv::Scalar(0, 255, 0));
  wide(cv::Rect(200, 0, 100, 100)).setTo(cv::Scalar(0, 0, 255));
  EXPECT_TRUE(identical(resize_to_input(wide, 50, ResizeMode::Squash), resize_for_network(wide, 50, 50)));
  // crop: the largest centered square (all green), resized.
  const cv::Mat crop = resize_to_input(wide, 50, ResizeMode::Crop);
  ASSERT_EQ(crop.size(), cv::Size(50, 50));
  for (int y = 0; y < 50; y += 7)
    for (int x = 0; x < 50; x += 7) EXPECT_EQ(crop.at<cv::Vec3b>(y, x), cv::Vec3b(0, 255, 0)) << x << "," << y;
  // center-crop: torchvision's Resize(256) + CenterCrop(224) for 224.
  const cv::Mat img = pattern(400, 300);
  EXPECT_TRUE(identical(resize_to_input(img, 224, ResizeMode::CenterCrop), resize_shorter_center_crop(img, 256, 224, 224)));
  EXPECT_THROW(resize_to_input(cv::Mat(), 10, ResizeMode::Crop), Error);
}

}  // namespace
}  // namespace imagefit

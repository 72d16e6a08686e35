// Decoding to 8-bit RGB: channel order, grayscale / alpha / 16-bit conversions, EXIF orientation,
// and errors that name the file for corrupt, truncated, empty and missing files.
#include "data/image_io.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>

#include "core/error.h"
#include "core/fs.h"
#include "serve/image_bombs.h"
#include "test_files.h"
#include "test_support.h"

namespace imagefit {
namespace {

using test::read_bytes;
using test::write_bytes;

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string encode(const cv::Mat& m, const std::string& ext, const std::vector<int>& params = {}) {
  std::vector<unsigned char> buf;
  EXPECT_TRUE(cv::imencode(ext, m, buf, params));
  return std::string(buf.begin(), buf.end());
}

cv::Vec3b rgb_at(const cv::Mat& m, int y, int x) { return m.at<cv::Vec3b>(y, x); }

TEST(ImageIo, ColorPngComesBackInRgbOrder) {
  TempDir tmp;
  cv::Mat bgr(2, 3, CV_8UC3, cv::Scalar(0, 0, 0));
  bgr.at<cv::Vec3b>(0, 0) = {0, 0, 255};  // red in OpenCV's BGR
  bgr.at<cv::Vec3b>(0, 1) = {0, 255, 0};  // green
  bgr.at<cv::Vec3b>(0, 2) = {255, 0, 0};  // blue
  bgr.at<cv::Vec3b>(1, 0) = {10, 20, 30};
  const fs::path p = tmp.path() / "c.png";
  write_bytes(p, encode(bgr, ".png"));
  const cv::Mat rgb = read_image_rgb(p.string());
  ASSERT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(rgb_at(rgb, 0, 0), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(rgb_at(rgb, 0, 1), cv::Vec3b(0, 255, 0));
  EXPECT_EQ(rgb_at(rgb, 0, 2), cv::Vec3b(0, 0, 255));
  EXPECT_EQ(rgb_at(rgb, 1, 0), cv::Vec3b(30, 20, 10));
}

TEST(ImageIo, GrayscalePngBecomesThreeEqualChannels) {
  TempDir tmp;
  cv::Mat gray(4, 5, CV_8UC1);
  for (int i = 0; i < 20; ++i) gray.at<uint8_t>(i / 5, i % 5) = uint8_t(i * 13);
  const fs::path p = tmp.path() / "g.png";
  write_bytes(p, encode(gray, ".png"));
  const std::string bytes = read_bytes(p);
  ASSERT_EQ(cv::imdecode(std::vector<unsigned char>(bytes.begin(), bytes.end()), cv::IMREAD_UNCHANGED).channels(), 1)
      << "the fixture must really be a 1-channel PNG";
  const cv::Mat rgb = read_image_rgb(p.string());
  ASSERT_EQ(rgb.type(), CV_8UC3);
  ASSERT_EQ(rgb.size(), gray.size());
  for (int i = 0; i < 20; ++i) {
    const uint8_t v = gray.at<uint8_t>(i / 5, i % 5);
    EXPECT_EQ(rgb_at(rgb, i / 5, i % 5), cv::Vec3b(v, v, v));
  }
}

TEST(ImageIo, RgbaPngDropsAlphaKeepsColour) {
  TempDir tmp;
  cv::Mat bgra(1, 3, CV_8UC4);
  bgra.at<cv::Vec4b>(0, 0) = {0, 0, 255, 255};  // opaque red
  bgra.at<cv::Vec4b>(0, 1) = {255, 0, 0, 0};    // transparent blue
  bgra.at<cv::Vec4b>(0, 2) = {40, 80, 120, 128};
  const fs::path p = tmp.path() / "a.png";
  write_bytes(p, encode(bgra, ".png"));
  const cv::Mat rgb = read_image_rgb(p.string());
  ASSERT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(rgb_at(rgb, 0, 0), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(rgb_at(rgb, 0, 1), cv::Vec3b(0, 0, 255));  // like PIL's convert("RGB"): the colour, not a matte
  EXPECT_EQ(rgb_at(rgb, 0, 2), cv::Vec3b(120, 80, 40));
}

TEST(ImageIo, SixteenBitPngIsScaledTo8Bit) {
  TempDir tmp;
  cv::Mat bgr16(1, 3, CV_16UC3);
  bgr16.at<cv::Vec3w>(0, 0) = {0, 257 * 100, 65535};
  bgr16.at<cv::Vec3w>(0, 1) = {65535, 65535, 65535};
  bgr16.at<cv::Vec3w>(0, 2) = {257 * 7, 0, 257 * 200};
  const fs::path p = tmp.path() / "deep.png";
  write_bytes(p, encode(bgr16, ".png"));
  const cv::Mat rgb = read_image_rgb(p.string());
  ASSERT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(rgb_at(rgb, 0, 0), cv::Vec3b(255, 100, 0));
  EXPECT_EQ(rgb_at(rgb, 0, 1), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(rgb_at(rgb, 0, 2), cv::Vec3b(200, 0, 7));

  cv::Mat gray16(1, 2, CV_16UC1);
  gray16.at<uint16_t>(0, 0) = 257 * 50;
  gray16.at<uint16_t>(0, 1) = 65535;
  write_bytes(p, encode(gray16, ".png"));
  const cv::Mat g = read_image_rgb(p.string());
  ASSERT_EQ(g.type(), CV_8UC3);
  EXPECT_EQ(rgb_at(g, 0, 0), cv::Vec3b(50, 50, 50));
  EXPECT_EQ(rgb_at(g, 0, 1), cv::Vec3b(255, 255, 255));
}

TEST(ImageIo, ToRgb8ConvertsFloatAndRejectsTwoChannels) {
  cv::Mat f(1, 1, CV_32FC3, cv::Scalar(0.0, 0.5, 1.0));
  EXPECT_EQ(rgb_at(to_rgb8(f, "f"), 0, 0), cv::Vec3b(255, 128, 0));
  cv::Mat two(1, 1, CV_8UC2, cv::Scalar(1, 2));
  EXPECT_NE(error_of([&] { to_rgb8(two, "odd.png"); }).find("odd.png"), std::string::npos);
}

cv::Mat noisy_bgr(int h, int w) {
  cv::Mat m(h, w, CV_8UC3);
  cv::randu(m, 0, 255);
  return m;
}

TEST(ImageIo, TruncatedJpegIsAnErrorNamingThePath) {
  TempDir tmp;
  const std::string jpeg = encode(noisy_bgr(64, 64), ".jpg", {cv::IMWRITE_JPEG_QUALITY, 90});
  const fs::path whole = tmp.path() / "whole.jpg";
  write_bytes(whole, jpeg);
  EXPECT_NO_THROW(read_image_rgb(whole.string()));
  // libjpeg alone would "decode" these with gray rows; they must be refused.
  for (double keep : {0.95, 0.5, 0.1}) {
    const fs::path cut = tmp.path() / ("cut" + std::to_string(int(keep * 100)) + ".jpg");
    write_bytes(cut, jpeg.substr(0, size_t(double(jpeg.size()) * keep)));
    const std::string msg = error_of([&] { read_image_rgb(cut.string()); });
    EXPECT_NE(msg.find(cut.string() + ":"), std::string::npos) << "keep " << keep << ": " << msg;
  }
  // Only the last two bytes (the end-of-image marker) missing.
  const fs::path no_eoi = tmp.path() / "no_eoi.jpg";
  write_bytes(no_eoi, jpeg.substr(0, jpeg.size() - 2));
  EXPECT_NE(error_of([&] { read_image_rgb(no_eoi.string()); }).find("truncated"), std::string::npos);
}

TEST(ImageIo, DataAfterTheEndOfAJpegIsFine) {
  TempDir tmp;
  const cv::Mat src = noisy_bgr(16, 16);
  const std::string jpeg = encode(src, ".jpg");
  // Phone photos pad with zeros after the end-of-image marker; some tools append other data.
  for (const std::string& tail : {std::string(1000, '\0'), std::string("trailing bytes\xff\xd8")}) {
    const fs::path p = tmp.path() / "padded.jpg";
    write_bytes(p, jpeg + tail);
    const cv::Mat m = read_image_rgb(p.string());
    EXPECT_EQ(m.size(), src.size());
  }
}

TEST(ImageIo, CorruptFilesAreErrorsNamingThePath) {
  TempDir tmp;
  std::string random(4096, '\0');
  cv::Mat bytes(1, int(random.size()), CV_8UC1, random.data());
  cv::randu(bytes, 0, 256);
  const fs::path noise = tmp.path() / "noise.jpg";
  write_bytes(noise, random);
  std::string msg = error_of([&] { read_image_rgb(noise.string()); });
  EXPECT_NE(msg.find(noise.string() + ": cannot decode"), std::string::npos) << msg;

  // A JPEG header followed by garbage.
  const std::string jpeg = encode(noisy_bgr(32, 32), ".jpg");
  const fs::path garbled = tmp.path() / "garbled.jpg";
  write_bytes(garbled, jpeg.substr(0, 20) + random);
  msg = error_of([&] { read_image_rgb(garbled.string()); });
  EXPECT_NE(msg.find(garbled.string() + ":"), std::string::npos) << msg;

  const fs::path text = tmp.path() / "actually_text.png";
  write_bytes(text, "<html>404 Not Found</html>");
  msg = error_of([&] { read_image_rgb(text.string()); });
  EXPECT_NE(msg.find(text.string() + ": cannot decode"), std::string::npos) << msg;
}

TEST(ImageIo, EmptyMissingAndFolderPaths) {
  TempDir tmp;
  const fs::path empty = tmp.path() / "empty.jpg";
  write_bytes(empty, "");
  std::string msg = error_of([&] { read_image_rgb(empty.string()); });
  EXPECT_NE(msg.find(empty.string() + ": empty file"), std::string::npos) << msg;

  const fs::path missing = tmp.path() / "missing.png";
  msg = error_of([&] { read_image_rgb(missing.string()); });
  EXPECT_NE(msg.find(missing.string() + ": cannot open"), std::string::npos) << msg;

  fs::create_directories(tmp.path() / "dir.jpg");
  msg = error_of([&] { read_image_rgb((tmp.path() / "dir.jpg").string()); });
  EXPECT_NE(msg.find("a folder"), std::string::npos) << msg;

  msg = error_of([&] { decode_image_rgb({1, 2, 3}, "upload.png"); });
  EXPECT_NE(msg.find("upload.png"), std::string::npos) << msg;
}

// 40 wide × 20 tall: left half red, right half blue (BGR order for OpenCV).
cv::Mat left_red_right_blue() {
  cv::Mat m(20, 40, CV_8UC3, cv::Scalar(0, 0, 255));
  m(cv::Rect(20, 0, 20, 20)).setTo(cv::Scalar(255, 0, 0));
  return m;
}

// An APP1 Exif segment holding only Orientation (tag 0x0112) = `orientation`, little-endian TIFF.
std::string exif_orientation_segment(uint8_t orientation) {
  const std::string payload = std::string("Exif\0\0", 6) + std::string("II\x2a\0\x08\0\0\0", 8) +  // TIFF header
                              std::string("\x01\0", 2) +                                           // one entry
                              std::string("\x12\x01\x03\0\x01\0\0\0", 8) + std::string{char(orientation), 0, 0, 0} +
                              std::string(4, '\0');  // no next IFD
  const size_t length = payload.size() + 2;
  return std::string{char(0xFF), char(0xE1), char(length >> 8), char(length & 0xFF)} + payload;
}

// Orientation 6 means "rotate 90° clockwise to display": the left (red) half ends up on top.
void expect_rotated_clockwise(const cv::Mat& rgb) {
  ASSERT_EQ(rgb.cols, 20);
  ASSERT_EQ(rgb.rows, 40);
  const cv::Vec3b top = rgb_at(rgb, 8, 10), bottom = rgb_at(rgb, 31, 10);
  EXPECT_GT(top[0], 200);
  EXPECT_LT(top[2], 60);
  EXPECT_GT(bottom[2], 200);
  EXPECT_LT(bottom[0], 60);
}

TEST(ImageIo, ExifOrientationIsApplied) {
  TempDir tmp;
  const std::string jpeg = encode(left_red_right_blue(), ".jpg", {cv::IMWRITE_JPEG_QUALITY, 95});
  const fs::path plain = tmp.path() / "plain.jpg";
  write_bytes(plain, jpeg);
  const cv::Mat upright = read_image_rgb(plain.string());
  ASSERT_EQ(upright.cols, 40);
  ASSERT_EQ(upright.rows, 20);
  EXPECT_GT(rgb_at(upright, 10, 5)[0], 200);  // red on the left as stored

  const fs::path rotated = tmp.path() / "rotated.jpg";
  write_bytes(rotated, jpeg.substr(0, 2) + exif_orientation_segment(6) + jpeg.substr(2));
  expect_rotated_clockwise(read_image_rgb(rotated.string()));
  // The same from memory (uploads go through decode_image_rgb).
  const std::string bytes = read_bytes(rotated);
  expect_rotated_clockwise(decode_image_rgb(std::vector<unsigned char>(bytes.begin(), bytes.end()), "upload.jpg"));
}

// The same check on a JPEG that PIL wrote with its own Exif block, when PIL is there.
TEST(ImageIo, ExifOrientationFromAPilWrittenJpeg) {
  TempDir tmp;
  const fs::path p = tmp.path() / "pil.jpg";
  const std::string script =
      "from PIL import Image\n"
      "im = Image.new('RGB', (40, 20), (255, 0, 0))\n"
      "im.paste((0, 0, 255), (20, 0, 40, 20))\n"
      "exif = Image.Exif()\n"
      "exif[0x0112] = 6\n"
      "im.save(r'" +
      p.string() + "', quality=95, exif=exif.tobytes())\n";
  write_bytes(tmp.path() / "make.py", script);
  const auto r = test::run_command("/usr/bin/python3 '" + (tmp.path() / "make.py").string() + "'");
  if (r.exit_code != 0 || !fs::exists(p))
    GTEST_SKIP() << "skipped: /usr/bin/python3 with PIL is not available to write the fixture (" << r.output << ")";
  expect_rotated_clockwise(read_image_rgb(p.string()));
}

// Real phone photos: EXIF orientation 6, and 200 KB of zero padding after the end-of-image marker.
TEST(ImageIo, SignDigitsPhonePhotos) {
  IMAGEFIT_REQUIRE_SHARED("data/sign-digits/7/IMG_5874.JPG");
  const fs::path p = test::shared_dir() / "data" / "sign-digits" / "7" / "IMG_5874.JPG";
  const cv::Mat m = read_image_rgb(p.string());
  EXPECT_EQ(m.type(), CV_8UC3);
  EXPECT_EQ(m.cols, 3024);
  EXPECT_EQ(m.rows, 3024);
  // Applied orientation = the stored pixels rotated clockwise.
  const std::string bytes = read_bytes(p);
  cv::Mat stored = cv::imdecode(std::vector<unsigned char>(bytes.begin(), bytes.end()),
                                cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  cv::Mat expected;
  cv::rotate(stored, expected, cv::ROTATE_90_CLOCKWISE);
  cv::cvtColor(expected, expected, cv::COLOR_BGR2RGB);
  EXPECT_EQ(cv::norm(m, expected, cv::NORM_INF), 0.0);
}

TEST(ImageIo, ImageExtensions) {
  EXPECT_TRUE(has_image_extension("a/b/IMG_1.JPG"));
  EXPECT_TRUE(has_image_extension("x.jpeg"));
  EXPECT_TRUE(has_image_extension("x.Png"));
  EXPECT_FALSE(has_image_extension("x.txt"));
  EXPECT_FALSE(has_image_extension("jpg"));
}

// ---- the pixel limit, from the header, before decoding ---------------------------------------------

// Runs f with stderr sent to a file; returns what was written there.
template <class F>
std::string stderr_of(F&& f) {
  TempDir tmp;
  const fs::path log = tmp.path() / "stderr.txt";
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(fd, 2);
  ::close(fd);
  f();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  return read_bytes(log);
}

// Restores the process-wide limit when a test ends.
struct LimitGuard {
  uint64_t saved = max_image_pixels();
  ~LimitGuard() { set_max_image_pixels(saved); }
};

TEST(ImageLimits, TheHeaderGivesTheSizeForEveryFormat) {
  const cv::Mat m = noisy_bgr(23, 37);  // 37 wide, 23 tall
  for (const char* ext : {".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm", ".pgm"}) {
    SCOPED_TRACE(ext);
    cv::Mat src = m;
    if (std::string(ext) == ".pgm") cv::cvtColor(m, src, cv::COLOR_BGR2GRAY);
    const std::string bytes = encode(src, ext);
    const ImageHeader h = read_image_header(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "x");
    EXPECT_EQ(h.width, 37u);
    EXPECT_EQ(h.height, 23u);
  }
  const std::string gif = std::string("GIF89a") + std::string{char(0x10), char(0x27), char(0x20), char(0x4E)} +
                          std::string(8, '\0');  // 10000 × 20000
  const ImageHeader g = read_image_header(reinterpret_cast<const unsigned char*>(gif.data()), gif.size(), "a.gif");
  EXPECT_EQ(g.format, "GIF");
  EXPECT_EQ(g.width, 10000u);
  EXPECT_EQ(g.height, 20000u);
}

TEST(ImageLimits, DefaultIsPilsLimit) {
  EXPECT_EQ(kDefaultMaxImagePixels, 89'478'485u);  // PIL's Image.MAX_IMAGE_PIXELS
  if (std::getenv("IMAGEFIT_MAX_IMAGE_PIXELS")) GTEST_SKIP() << "IMAGEFIT_MAX_IMAGE_PIXELS is set in this environment";
  EXPECT_EQ(max_image_pixels(), kDefaultMaxImagePixels);
}

// The probe case: a small PNG that says 20000×20000 (1.2 GB of pixels). OpenCV 4.6 allows up to 2^30
// pixels, so without the header check it allocates the image, then libpng complains on stderr that
// the data is short, and the message is OpenCV's.
TEST(ImageLimits, APngBombIsRefusedFromItsHeaderNamingTheFileAndItsSize) {
  if (std::getenv("IMAGEFIT_MAX_IMAGE_PIXELS")) GTEST_SKIP() << "IMAGEFIT_MAX_IMAGE_PIXELS is set in this environment";
  TempDir tmp;
  const fs::path photo = tmp.path() / "photo.png";
  write_bytes(photo, test::png_bomb(20000, 20000));
  ASSERT_LT(fs::file_size(photo), 4096u);
  std::string msg;
  bool too_large = false;
  const auto start = std::chrono::steady_clock::now();
  const std::string noise = stderr_of([&] {
    try {
      read_image_rgb(photo.string());
    } catch (const ImageTooLargeError& e) {
      too_large = true;
      msg = e.what();
    } catch (const Error& e) {
      msg = e.what();
    }
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(too_large) << msg;
  EXPECT_EQ(msg, photo.string() +
                     ": 20000\u00d720000 pixels is over the limit of 89.5 megapixels (--max-image-pixels, or "
                     "IMAGEFIT_MAX_IMAGE_PIXELS; 0: no limit)");
  EXPECT_EQ(noise, "") << "decoder noise on stderr";
  EXPECT_LT(seconds, 0.5);
}

TEST(ImageLimits, JpegWebpAndBmpBombsAreRefusedToo) {
  LimitGuard guard;
  set_max_image_pixels(kDefaultMaxImagePixels);
  const std::vector<std::pair<std::string, std::string>> bombs = {
      {"big.jpg", test::jpeg_bomb(60000, 60000)},
      {"big.webp", test::webp_bomb(16383, 16383)},
      {"big.bmp", test::bmp_bomb(30000, -30000)},  // negative height: a top-down BMP
  };
  for (const auto& [name, bytes] : bombs) {
    SCOPED_TRACE(name);
    std::string msg;
    EXPECT_THROW(
        {
          try {
            decode_image_rgb(std::vector<unsigned char>(bytes.begin(), bytes.end()), name);
          } catch (const ImageTooLargeError& e) {
            msg = e.what();
            throw;
          }
        },
        ImageTooLargeError);
    EXPECT_NE(msg.find(name + ": "), std::string::npos) << msg;
    EXPECT_NE(msg.find(" pixels is over the limit of 89.5 megapixels"), std::string::npos) << msg;
  }
}

TEST(ImageLimits, TheLimitCanBeChangedAndTurnedOff) {
  LimitGuard guard;
  const std::string png = encode(noisy_bgr(30, 40), ".png");  // 40 wide, 30 tall
  const std::vector<unsigned char> bytes(png.begin(), png.end());
  set_max_image_pixels(1000);
  try {
    decode_image_rgb(bytes, "small.png");
    ADD_FAILURE() << "a 40x30 image passed a 1000-pixel limit";
  } catch (const ImageTooLargeError& e) {
    EXPECT_NE(std::string(e.what()).find("small.png: 40\u00d730 pixels is over the limit of 0.001 megapixels"),
              std::string::npos)
        << e.what();
  }
  set_max_image_pixels(1200);  // the limit itself is allowed
  EXPECT_EQ(decode_image_rgb(bytes, "small.png").cols, 40);
  set_max_image_pixels(0);  // no limit: the bomb gets past the header check, to the decoder
  const std::string bomb = test::png_bomb(3000, 3000);
  try {
    decode_image_rgb(std::vector<unsigned char>(bomb.begin(), bomb.end()), "b.png");
  } catch (const ImageTooLargeError& e) {
    ADD_FAILURE() << "limit 0 still refused: " << e.what();
  } catch (const Error&) {  // the decoder finds the data short
  }
}

TEST(ImageLimits, FormatsWithoutAHeaderCheckAreRefused) {
  std::vector<unsigned char> ras;
  if (!cv::imencode(".ras", noisy_bgr(8, 8), ras)) GTEST_SKIP() << "this OpenCV cannot write Sun raster files";
  try {
    decode_image_rgb(ras, "odd.ras");
    ADD_FAILURE() << "a Sun raster image was decoded without a pixel-limit check";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("odd.ras: cannot decode image (not a JPEG, PNG, BMP, WebP, TIFF or PNM image)"),
              std::string::npos)
        << e.what();
  }
}

TEST(ImageLimits, DecodeMemoryEstimate) {
  ImageHeader h;
  h.width = 1000;
  h.height = 1000;
  h.channels = 3;
  EXPECT_EQ(decode_memory_bytes(h), 6'000'000u);  // BGR from the decoder + the RGB copy
  h.channels = 4;
  h.bytes_per_sample = 2;
  EXPECT_EQ(decode_memory_bytes(h), 15'000'000u);  // + the 8-bit conversion
}

}  // namespace
}  // namespace imagefit

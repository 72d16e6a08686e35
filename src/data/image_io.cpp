#include "data/image_io.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/fs.h"

namespace imagefit {

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> exts = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"};
  return exts;
}

bool has_image_extension(const std::string& path) {
  const std::string ext = lower_extension(path);
  const auto& exts = image_extensions();
  return std::find(exts.begin(), exts.end(), ext) != exts.end();
}

cv::Mat to_rgb8(const cv::Mat& img, const std::string& name) {
  cv::Mat m = img;
  if (m.depth() == CV_16U)
    m.convertTo(m, CV_8U, 1.0 / 257.0);
  else if (m.depth() == CV_32F || m.depth() == CV_64F)
    m.convertTo(m, CV_8U, 255.0);
  else if (m.depth() != CV_8U)
    m.convertTo(m, CV_8U);
  cv::Mat rgb;
  switch (m.channels()) {
    case 1:
      cv::cvtColor(m, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 3:
      cv::cvtColor(m, rgb, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(m, rgb, cv::COLOR_BGRA2RGB);
      break;
    default:
      throw Error(name + ": unsupported image with " + std::to_string(m.channels()) + " channels");
  }
  return rgb;
}

namespace {

// True when `b` is a JPEG that ends before its end-of-image marker. libjpeg decodes such a file
// "successfully" (with a warning and the missing rows gray), so a cut-off download would train
// as a half-gray picture; PIL and TensorFlow refuse it, and so do we. Walks the marker segments
// and the entropy-coded data; bytes after the end-of-image marker (padding, appended data) are fine.
bool jpeg_truncated(const std::vector<unsigned char>& b) {
  const size_t n = b.size();
  if (n < 3 || b[0] != 0xFF || b[1] != 0xD8) return false;  // not a JPEG
  size_t pos = 2;
  while (true) {
    if (pos >= n) return true;
    if (b[pos] != 0xFF) return false;         // malformed, not truncated: the decoder decides
    while (pos < n && b[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= n) return true;
    const unsigned char marker = b[pos++];
    if (marker == 0xD9) return false;                                    // end of image
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length field
    if (pos + 2 > n) return true;
    const size_t length = size_t(b[pos]) << 8 | b[pos + 1];
    if (length < 2) return false;
    pos += length;
    if (pos > n) return true;
    if (marker == 0xDA) {  // start of scan: entropy-coded data up to the next marker
      while (true) {
        if (pos + 1 >= n) return true;
        if (b[pos] == 0xFF && b[pos + 1] != 0x00 && !(b[pos + 1] >= 0xD0 && b[pos + 1] <= 0xD7)) break;
        pos += b[pos] == 0xFF ? 2 : 1;
      }
    }
  }
}

}  // namespace

cv::Mat decode_image_rgb(const std::vector<unsigned char>& bytes, const std::string& name) {
  if (bytes.empty()) throw Error(name + ": empty file, not an image");
  if (jpeg_truncated(bytes)) throw Error(name + ": truncated JPEG (the file ends before the image does)");
  cv::Mat decoded;
  try {
    // ANYDEPTH keeps 16-bit (to_rgb8 scales it) and ANYCOLOR keeps grayscale as one channel; alpha is
    // dropped, as PIL's convert("RGB") does. Unlike IMREAD_UNCHANGED this still applies the EXIF orientation.
    decoded = cv::imdecode(bytes, cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
  } catch (const cv::Exception& e) {
    throw Error(name + ": cannot decode image (" + e.err + ")");
  }
  if (decoded.empty()) throw Error(name + ": cannot decode image (corrupt or not a supported image format)");
  return to_rgb8(decoded, name);
}

cv::Mat read_image_rgb(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": a folder, not an image file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open file (" + std::strerror(errno) + ")");
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return decode_image_rgb(bytes, path);
}

}  // namespace imagefit

#include "data/image_io.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
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
bool jpeg_truncated(const unsigned char* b, size_t n) {
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

// ---- the pixel limit ------------------------------------------------------------------------------

namespace {

std::atomic<uint64_t> g_max_pixels{0};
std::atomic<bool> g_max_pixels_set{false};
std::once_flag g_env_once;

// $IMAGEFIT_MAX_IMAGE_PIXELS once, unless set_max_image_pixels came first.
void read_limit_from_environment() {
  std::call_once(g_env_once, [] {
    if (g_max_pixels_set) return;
    const char* env = std::getenv("IMAGEFIT_MAX_IMAGE_PIXELS");
    uint64_t value = kDefaultMaxImagePixels;
    if (env && *env) {
      const std::string text(env);
      if (text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
        throw Error("IMAGEFIT_MAX_IMAGE_PIXELS must be a whole number of pixels (0: no limit), got '" + text + "'");
      value = std::stoull(text);
    }
    uint64_t expected = 0;
    if (!g_max_pixels_set) g_max_pixels.compare_exchange_strong(expected, value);
    g_max_pixels_set = true;
  });
}

std::string megapixels(uint64_t pixels) {
  char buf[32];
  const double mp = double(pixels) / 1e6;
  std::snprintf(buf, sizeof buf, mp >= 100 ? "%.0f" : "%.3g", mp);
  return buf;
}

uint32_t be16(const unsigned char* p) { return uint32_t(p[0]) << 8 | p[1]; }
uint32_t le16(const unsigned char* p) { return uint32_t(p[1]) << 8 | p[0]; }
uint32_t be32(const unsigned char* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint32_t le32(const unsigned char* p) { return uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0]; }
uint32_t le24(const unsigned char* p) { return uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0]; }

struct HeaderError {
  std::string why;
};

void parse_jpeg(const unsigned char* b, size_t n, ImageHeader& h) {
  size_t pos = 2;
  while (true) {
    while (pos < n && b[pos] != 0xFF) ++pos;  // tolerate junk between segments, as libjpeg does
    while (pos < n && b[pos] == 0xFF) ++pos;
    if (pos >= n) throw HeaderError{"the JPEG ends before its frame header"};
    const unsigned char marker = b[pos++];
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length field
    if (marker == 0xD9 || marker == 0xDA) throw HeaderError{"a JPEG without a frame header"};
    if (pos + 2 > n) throw HeaderError{"the JPEG ends before its frame header"};
    const size_t length = be16(b + pos);
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (length < 8 || pos + 8 > n) throw HeaderError{"a cut-off JPEG frame header"};
      h.height = be16(b + pos + 3);
      h.width = be16(b + pos + 5);
      h.channels = b[pos + 7] ? b[pos + 7] : 3;
      h.bytes_per_sample = b[pos + 2] > 8 ? 2 : 1;
      h.progressive = marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE;
      return;
    }
    if (length < 2) throw HeaderError{"a malformed JPEG segment"};
    pos += length;
  }
}

void parse_png(const unsigned char* b, size_t n, ImageHeader& h) {
  if (n < 26 || std::memcmp(b + 12, "IHDR", 4) != 0) throw HeaderError{"a PNG without its IHDR header"};
  h.width = be32(b + 16);
  h.height = be32(b + 20);
  h.bytes_per_sample = b[24] == 16 ? 2 : 1;
  switch (b[25]) {
    case 0: h.channels = 1; break;
    case 4: h.channels = 2; break;
    case 6: h.channels = 4; break;
    default: h.channels = b[25] == 3 ? 4 : 3;  // a palette may expand to RGBA (tRNS)
  }
}

void parse_bmp(const unsigned char* b, size_t n, ImageHeader& h) {
  if (n < 26) throw HeaderError{"a cut-off BMP header"};
  const uint32_t dib = le32(b + 14);
  if (dib == 12) {
    h.width = le16(b + 18);
    h.height = le16(b + 20);
    return;
  }
  if (n < 30) throw HeaderError{"a cut-off BMP header"};
  const int32_t w = int32_t(le32(b + 18)), hh = int32_t(le32(b + 22));
  h.width = uint64_t(std::abs(int64_t(w)));
  h.height = uint64_t(std::abs(int64_t(hh)));  // negative: stored top-down
  h.channels = le16(b + 28) == 32 ? 4 : 3;
}

void parse_webp(const unsigned char* b, size_t n, ImageHeader& h) {
  if (n < 30) throw HeaderError{"a cut-off WebP header"};
  const unsigned char* c = b + 20;  // the first chunk's data
  if (std::memcmp(b + 12, "VP8 ", 4) == 0) {
    if (c[3] != 0x9D || c[4] != 0x01 || c[5] != 0x2A) throw HeaderError{"a malformed WebP (VP8) header"};
    h.width = le16(c + 6) & 0x3FFF;
    h.height = le16(c + 8) & 0x3FFF;
  } else if (std::memcmp(b + 12, "VP8L", 4) == 0) {
    if (c[0] != 0x2F) throw HeaderError{"a malformed WebP (VP8L) header"};
    const uint32_t bits = le32(c + 1);
    h.width = (bits & 0x3FFF) + 1;
    h.height = ((bits >> 14) & 0x3FFF) + 1;
    h.channels = 4;
  } else if (std::memcmp(b + 12, "VP8X", 4) == 0) {
    h.width = uint64_t(le24(c + 4)) + 1;
    h.height = uint64_t(le24(c + 7)) + 1;
    h.channels = 4;
  } else {
    throw HeaderError{"a WebP with an unknown first chunk"};
  }
}

void parse_tiff(const unsigned char* b, size_t n, ImageHeader& h) {
  const bool little = b[0] == 'I';
  auto u16 = [&](size_t at) { return little ? le16(b + at) : be16(b + at); };
  auto u32 = [&](size_t at) { return little ? le32(b + at) : be32(b + at); };
  if (n < 8) throw HeaderError{"a cut-off TIFF header"};
  const size_t ifd = u32(4);
  if (ifd > n || n - ifd < 2) throw HeaderError{"a TIFF whose first directory is past the end of the file"};
  const size_t count = u16(ifd);
  for (size_t i = 0; i < count; ++i) {
    const size_t e = ifd + 2 + 12 * i;
    if (e + 12 > n) throw HeaderError{"a cut-off TIFF directory"};
    const uint32_t tag = u16(e), type = u16(e + 2);
    const uint32_t value = type == 3 ? u16(e + 8) : type == 4 ? u32(e + 8) : 0;
    if (tag == 256) h.width = value;
    if (tag == 257) h.height = value;
    if (tag == 277 && value) h.channels = int(std::min<uint32_t>(value, 16));
    if (tag == 258 && type == 3) h.bytes_per_sample = u16(e + 8) > 8 ? (u16(e + 8) > 16 ? 4 : 2) : 1;
  }
  if (!h.width || !h.height) throw HeaderError{"a TIFF without its width or height"};
}

void parse_pnm(const unsigned char* b, size_t n, ImageHeader& h) {
  h.channels = (b[1] == '3' || b[1] == '6') ? 3 : 1;
  size_t pos = 2;
  uint64_t numbers[3] = {0, 0, 255};
  const int wanted = (b[1] == '1' || b[1] == '4') ? 2 : 3;
  for (int k = 0; k < wanted; ++k) {
    while (pos < n && (std::isspace(b[pos]) || b[pos] == '#')) {
      if (b[pos] == '#')
        while (pos < n && b[pos] != '\n') ++pos;
      else
        ++pos;
    }
    if (pos >= n || !std::isdigit(b[pos])) throw HeaderError{"a malformed PNM header"};
    uint64_t v = 0;
    while (pos < n && std::isdigit(b[pos]) && v < (uint64_t(1) << 40)) v = v * 10 + uint64_t(b[pos++] - '0');
    numbers[k] = v;
  }
  h.width = numbers[0];
  h.height = numbers[1];
  h.bytes_per_sample = numbers[2] > 255 ? 2 : 1;
}

}  // namespace

uint64_t max_image_pixels() {
  read_limit_from_environment();
  return g_max_pixels;
}

void set_max_image_pixels(uint64_t pixels) {
  g_max_pixels_set = true;
  g_max_pixels = pixels;
}

ImageHeader read_image_header(const unsigned char* b, size_t n, const std::string& name) {
  ImageHeader h;
  try {
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
      h.format = "JPEG";
      parse_jpeg(b, n, h);
    } else if (n >= 8 && std::memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) {
      h.format = "PNG";
      parse_png(b, n, h);
    } else if (n >= 2 && b[0] == 'B' && b[1] == 'M') {
      h.format = "BMP";
      parse_bmp(b, n, h);
    } else if (n >= 12 && std::memcmp(b, "RIFF", 4) == 0 && std::memcmp(b + 8, "WEBP", 4) == 0) {
      h.format = "WebP";
      parse_webp(b, n, h);
    } else if (n >= 4 && (std::memcmp(b, "II*\0", 4) == 0 || std::memcmp(b, "MM\0*", 4) == 0)) {
      h.format = "TIFF";
      parse_tiff(b, n, h);
    } else if (n >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' && std::isspace(b[2])) {
      h.format = "PNM";
      parse_pnm(b, n, h);
    } else if (n >= 10 && (std::memcmp(b, "GIF87a", 6) == 0 || std::memcmp(b, "GIF89a", 6) == 0)) {
      h.format = "GIF";
      h.width = le16(b + 6);
      h.height = le16(b + 8);
    } else {
      throw HeaderError{"not a JPEG, PNG, BMP, WebP, TIFF or PNM image"};
    }
  } catch (const HeaderError& e) {
    throw Error(name + ": cannot decode image (" + e.why + ")");
  }
  if (h.width == 0 || h.height == 0)
    throw Error(name + ": cannot decode image (its " + h.format + " header gives a size of " + std::to_string(h.width) +
                "x" + std::to_string(h.height) + ")");
  return h;
}

void check_image_pixels(const ImageHeader& h, const std::string& name) {
  const uint64_t limit = max_image_pixels();
  if (limit == 0 || h.pixels() <= limit) return;
  throw ImageTooLargeError(name + ": " + std::to_string(h.width) + "\u00d7" + std::to_string(h.height) +
                           " pixels is over the limit of " + megapixels(limit) +
                           " megapixels (--max-image-pixels, or IMAGEFIT_MAX_IMAGE_PIXELS; 0: no limit)");
}

uint64_t decode_memory_bytes(const ImageHeader& h) {
  const uint64_t decoded = uint64_t(h.channels) * uint64_t(h.bytes_per_sample);
  uint64_t per_pixel = decoded + 3;                           // decoder output + the RGB copy
  if (h.bytes_per_sample > 1) per_pixel += uint64_t(h.channels);  // the 8-bit conversion
  if (h.progressive) per_pixel += 2 * uint64_t(h.channels);       // 16-bit DCT coefficients
  return h.pixels() * per_pixel;
}

cv::Mat decode_image_rgb(const unsigned char* data, size_t size, const std::string& name) {
  if (size == 0) throw Error(name + ": empty file, not an image");
  // Before any decoder runs: the limit from the header, so that a bomb allocates nothing.
  check_image_pixels(read_image_header(data, size, name), name);
  if (jpeg_truncated(data, size)) throw Error(name + ": truncated JPEG (the file ends before the image does)");
  cv::Mat decoded;
  try {
    // ANYDEPTH keeps 16-bit (to_rgb8 scales it) and ANYCOLOR keeps grayscale as one channel; alpha is
    // dropped, as PIL's convert("RGB") does. Unlike IMREAD_UNCHANGED this still applies the EXIF orientation.
    const cv::Mat encoded(1, int(std::min<size_t>(size, size_t(INT32_MAX))), CV_8U, const_cast<unsigned char*>(data));
    decoded = cv::imdecode(encoded, cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
  } catch (const cv::Exception& e) {
    throw Error(name + ": cannot decode image (" + e.err + ")");
  }
  if (decoded.empty()) throw Error(name + ": cannot decode image (corrupt or not a supported image format)");
  return to_rgb8(decoded, name);
}

cv::Mat decode_image_rgb(const std::vector<unsigned char>& bytes, const std::string& name) {
  return decode_image_rgb(bytes.data(), bytes.size(), name);
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

#pragma once
// Decompression bombs for the tests: small real image files whose header declares a huge size.
// A small image is encoded by OpenCV, then its header's width and height are rewritten (and the
// PNG chunk CRC recomputed). A decoder that trusts the header allocates the whole image before it
// finds the data short; imagefit must refuse it from the header alone.
// Header-only (tests/data and tests/serve both use it).
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

namespace imagefit::test {

inline uint32_t crc32_of(const unsigned char* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

inline void put_be32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + size_t(i)] = char((v >> (24 - 8 * i)) & 0xFF);
}

inline std::string small_encoded(const std::string& ext) {
  cv::Mat m(16, 16, CV_8UC3, cv::Scalar(40, 120, 200));
  std::vector<unsigned char> buf;
  cv::imencode(ext, m, buf);
  return std::string(buf.begin(), buf.end());
}

// A PNG whose IHDR says width × height (RGB, 8-bit), CRC valid, with a 16×16 image's data.
inline std::string png_bomb(uint32_t width, uint32_t height) {
  std::string png = small_encoded(".png");
  put_be32(png, 16, width);
  put_be32(png, 20, height);
  put_be32(png, 29, crc32_of(reinterpret_cast<const unsigned char*>(png.data()) + 12, 17));  // "IHDR" + 13 bytes
  return png;
}

// A baseline JPEG whose frame header says width × height (at most 65535 each).
inline std::string jpeg_bomb(uint16_t width, uint16_t height) {
  std::string jpg = small_encoded(".jpg");
  for (size_t i = 2; i + 9 < jpg.size(); ++i) {
    if (uint8_t(jpg[i]) == 0xFF && uint8_t(jpg[i + 1]) == 0xC0) {
      jpg[i + 5] = char(height >> 8);
      jpg[i + 6] = char(height & 0xFF);
      jpg[i + 7] = char(width >> 8);
      jpg[i + 8] = char(width & 0xFF);
      break;
    }
  }
  return jpg;
}

// A BMP header (BITMAPINFOHEADER, 24-bit) for width × height with no pixel data.
inline std::string bmp_bomb(int32_t width, int32_t height) {
  std::string b(54, '\0');
  auto le32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + size_t(i)] = char((v >> (8 * i)) & 0xFF);
  };
  b[0] = 'B';
  b[1] = 'M';
  le32(2, 54);
  le32(10, 54);
  le32(14, 40);
  le32(18, uint32_t(width));
  le32(22, uint32_t(height));
  b[26] = 1;
  b[28] = 24;
  return b;
}

// A WebP whose frame says width × height (at most 16383 each; OpenCV writes lossless VP8L by default).
inline std::string webp_bomb(uint16_t width, uint16_t height) {
  std::string w = small_encoded(".webp");
  if (w.size() > 30 && w.compare(12, 4, "VP8L") == 0) {
    const uint32_t bits = (uint32_t(uint8_t(w[21])) | uint32_t(uint8_t(w[22])) << 8 | uint32_t(uint8_t(w[23])) << 16 |
                           uint32_t(uint8_t(w[24])) << 24) & 0xF0000000u;
    const uint32_t v = bits | uint32_t(width - 1) | uint32_t(height - 1) << 14;
    for (int i = 0; i < 4; ++i) w[21 + size_t(i)] = char((v >> (8 * i)) & 0xFF);
  } else if (w.size() > 30 && w.compare(12, 4, "VP8 ") == 0) {
    w[26] = char(width & 0xFF);
    w[27] = char((w[27] & 0xC0) | ((width >> 8) & 0x3F));
    w[28] = char(height & 0xFF);
    w[29] = char((w[29] & 0xC0) | ((height >> 8) & 0x3F));
  }
  return w;
}

}  // namespace imagefit::test

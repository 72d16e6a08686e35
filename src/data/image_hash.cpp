#include "data/image_hash.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace imagefit {

namespace {

constexpr uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full, P3 = 0x165667B19E3779F9ull,
                   P4 = 0x85EBCA77C2B2AE63ull, P5 = 0x27D4EB2F165667C5ull;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t read64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);  // little-endian hosts only (x86-64, arm64), as XXH64 is defined
  return v;
}
inline uint32_t read32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t round(uint64_t acc, uint64_t input) { return rotl(acc + input * P2, 31) * P1; }
inline uint64_t merge(uint64_t acc, uint64_t val) { return (acc ^ round(0, val)) * P1 + P4; }

}  // namespace

uint64_t content_hash(const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  const unsigned char* const end = p + size;
  uint64_t h;
  if (size >= 32) {
    uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = 0 - P1;
    const unsigned char* const limit = end - 32;
    do {
      v1 = round(v1, read64(p));
      v2 = round(v2, read64(p + 8));
      v3 = round(v3, read64(p + 16));
      v4 = round(v4, read64(p + 24));
      p += 32;
    } while (p <= limit);
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = merge(h, v1);
    h = merge(h, v2);
    h = merge(h, v3);
    h = merge(h, v4);
  } else {
    h = P5;
  }
  h += uint64_t(size);
  for (; p + 8 <= end; p += 8) h = rotl(h ^ round(0, read64(p)), 27) * P1 + P4;
  if (p + 4 <= end) {
    h = rotl(h ^ (uint64_t(read32(p)) * P1), 23) * P2 + P3;
    p += 4;
  }
  for (; p < end; ++p) h = rotl(h ^ (uint64_t(*p) * P5), 11) * P1;
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

uint64_t perceptual_hash(const cv::Mat& image) {
  if (image.empty()) throw Error("perceptual_hash: empty image");
  cv::Mat grey;
  if (image.channels() == 1) grey = image;
  else if (image.channels() == 3) cv::cvtColor(image, grey, cv::COLOR_RGB2GRAY);  // R/B order barely matters for luma
  else if (image.channels() == 4) cv::cvtColor(image, grey, cv::COLOR_RGBA2GRAY);
  else throw Error("perceptual_hash: unsupported image with " + std::to_string(image.channels()) + " channels");
  // INTER_AREA averages every source pixel, so the thumbnail (and the hash) hardly depends on the
  // source resolution; the bilinear default would alias a large image.
  cv::Mat thumb;
  cv::resize(grey, thumb, cv::Size(32, 32), 0, 0, cv::INTER_AREA);
  thumb.convertTo(thumb, CV_32F);
  cv::Mat coeffs;
  cv::dct(thumb, coeffs);
  float low[64];
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) low[y * 8 + x] = coeffs.at<float>(y, x);
  // Median of the 63 AC coefficients: the DC term (mean brightness) would skew it.
  float sorted[63];
  std::copy(low + 1, low + 64, sorted);
  std::nth_element(sorted, sorted + 31, sorted + 63);
  const float median = sorted[31];
  uint64_t h = 0;
  for (int i = 1; i < 64; ++i)
    if (low[i] > median) h |= uint64_t(1) << i;
  return h;  // bit 0 (DC) is always 0
}

PictureSignature picture_signature(const cv::Mat& image) {
  PictureSignature sig;
  sig.phash = perceptual_hash(image);
  cv::Mat grey;
  if (image.channels() == 1) grey = image;
  else cv::cvtColor(image, grey, image.channels() == 4 ? cv::COLOR_RGBA2GRAY : cv::COLOR_RGB2GRAY);
  cv::Mat thumb;
  cv::resize(grey, thumb, cv::Size(16, 16), 0, 0, cv::INTER_AREA);
  thumb.convertTo(thumb, CV_32F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(thumb, mean, stddev);
  const double scale = 1.0 / std::max(stddev[0], 1.0);  // a flat picture stays flat, not noise blown up
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) sig.thumbnail[size_t(y * 16 + x)] = float((thumb.at<float>(y, x) - mean[0]) * scale);
  return sig;
}

float thumbnail_distance(const PictureSignature& a, const PictureSignature& b) {
  float sum = 0;
  for (size_t i = 0; i < a.thumbnail.size(); ++i) sum += std::abs(a.thumbnail[i] - b.thumbnail[i]);
  return sum / float(a.thumbnail.size());
}

bool near_duplicates(const PictureSignature& a, const PictureSignature& b, int max_bits) {
  return hamming_distance(a.phash, b.phash) <= max_bits && thumbnail_distance(a, b) <= kNearThumbnailDistance;
}

}  // namespace imagefit

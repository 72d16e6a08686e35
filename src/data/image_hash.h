#pragma once
// Hashes for finding duplicate images: a content hash of the file's bytes (exact duplicates) and a
// perceptual hash of the picture (near duplicates: the same photo resized, recompressed or re-encoded).
#include <array>
#include <cstddef>
#include <cstdint>

#include <opencv2/core.hpp>

namespace imagefit {

// XXH64 of `size` bytes (seed 0): fast (several GB/s) and well mixed; with the file size beside it,
// two different files sharing a hash is not a practical concern for a dataset.
uint64_t content_hash(const void* data, size_t size);

// DCT perceptual hash (pHash): the image as a 32×32 grey thumbnail, its 2-D DCT, and one bit per
// low-frequency coefficient of the top-left 8×8 block (DC excluded) telling whether it is above
// their median. Resizing, JPEG recompression and mild colour changes move few bits; unrelated
// pictures differ in about half. Accepts 8-bit images with 1, 3 (either channel order) or 4 channels.
uint64_t perceptual_hash(const cv::Mat& image);

inline int hamming_distance(uint64_t a, uint64_t b) { return __builtin_popcountll(a ^ b); }

// What near-duplicate detection compares: the perceptual hash, and a 16x16 grey thumbnail normalised
// to zero mean and unit variance (brightness and contrast changes cancel out).
struct PictureSignature {
  uint64_t phash = 0;
  std::array<float, 256> thumbnail{};
};
PictureSignature picture_signature(const cv::Mat& image);
// Mean absolute difference of two normalised thumbnails (0: the same picture; about 1: unrelated).
float thumbnail_distance(const PictureSignature& a, const PictureSignature& b);

// Near duplicates: perceptual hashes at most `max_bits` apart AND thumbnails within
// kNearThumbnailDistance. The hash alone cannot tell a re-encoded copy from a second photo of the
// same scene: on data/sample-sign-digits (600 photos of hands on one white background) resizing to
// 0.37-2x and saving at JPEG quality 70 moves the hash 0-6 bits, yet 23 pairs of distinct photos are
// also within 6 bits. Their thumbnails are 0.16 or more apart, the re-encoded copies at most 0.075
// (0.12 on ../shared cats-dogs at 0.5x and 2x; a 0.37x copy of a cat photo can reach 0.16 and is missed).
constexpr int kNearDuplicateDistance = 8;
constexpr float kNearThumbnailDistance = 0.14f;
bool near_duplicates(const PictureSignature& a, const PictureSignature& b, int max_bits = kNearDuplicateDistance);

}  // namespace imagefit

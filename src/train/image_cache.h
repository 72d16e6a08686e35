#pragma once
// Decoded images of a dataset, held in memory at the network's input size so an epoch never
// decodes a JPEG again. Decoding runs on all threads; files that fail to decode are reported
// by path and left out (or are an Error with strict = true).
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "data/dataset.h"
#include "models/input.h"

namespace imagefit {

struct BadImage {
  std::string path;
  std::string reason;
};

class ImageCache {
 public:
  // Decodes every image of `set` and resizes it to size×size. If the decoded images would take more
  // than `max_bytes`, keeps only the paths and decodes on demand (`get` then decodes).
  ImageCache(const ImageSet& set, int size, ResizeMode resize, int threads, bool strict,
             size_t max_bytes = size_t(3) << 30, bool show_progress = true);

  size_t size() const { return items_.size(); }
  int label(size_t i) const { return items_[i].label; }
  const std::string& path(size_t i) const { return items_[i].path; }
  // The image at network size (RGB 8-bit). Thread-safe.
  cv::Mat get(size_t i) const;
  const std::vector<BadImage>& bad_images() const { return bad_; }
  bool in_memory() const { return in_memory_; }
  const std::vector<std::string>& classes() const { return classes_; }

 private:
  std::vector<LabeledImage> items_;
  std::vector<cv::Mat> images_;
  std::vector<BadImage> bad_;
  std::vector<std::string> classes_;
  int size_;
  ResizeMode resize_;
  bool in_memory_ = true;
};

}  // namespace imagefit

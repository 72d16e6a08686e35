#include "train/image_cache.h"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include <opencv2/imgproc.hpp>

#include "augment/augmenter.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/text.h"
#include "data/image_io.h"

namespace imagefit {

ImageCache::ImageCache(const ImageSet& set, int size, ResizeMode resize, int threads, bool strict, size_t max_bytes,
                       bool show_progress)
    : classes_(set.classes), size_(size), resize_(resize) {
  const size_t per_image = size_t(size) * size * 3;
  in_memory_ = per_image * set.images.size() <= max_bytes;
  std::vector<cv::Mat> decoded(set.images.size());
  std::vector<std::string> errors(set.images.size());
  ProgressBar bar("decoding " + std::to_string(set.images.size()) + " images", long(set.images.size()),
                  show_progress ? stderr : nullptr);
  std::atomic<long> done{0};
  std::mutex bar_mutex;
  parallel_for(set.images.size(), threads, [&](size_t i) {
    try {
      cv::Mat img = read_image_rgb(set.images[i].path);
      if (in_memory_) decoded[i] = resize_to_input(img, size, resize).clone();
    } catch (const Error& e) {
      errors[i] = e.what();
    }
    long d = ++done;
    if (show_progress) {
      std::lock_guard<std::mutex> lock(bar_mutex);
      bar.update(d);
    }
  });
  if (show_progress) bar.finish(in_memory_ ? "(cached in memory)" : "(too large to cache: decoding each epoch)");
  for (size_t i = 0; i < set.images.size(); ++i) {
    if (!errors[i].empty()) {
      bad_.push_back({set.images[i].path, errors[i]});
      continue;
    }
    items_.push_back(set.images[i]);
    if (in_memory_) images_.push_back(std::move(decoded[i]));
  }
  if (!bad_.empty()) {
    if (strict) throw Error(bad_[0].reason + (bad_.size() > 1 ? " (and " + std::to_string(bad_.size() - 1) + " more)" : ""));
    for (const auto& b : bad_) std::fprintf(stderr, "warning: skipped %s\n", printable(b.reason).c_str());  // names from disk
    std::fprintf(stderr, "warning: %zu of %zu images could not be read and were skipped (--strict makes this an error)\n",
                 bad_.size(), set.images.size());
    // A class whose every image failed would train as if it did not exist: an error naming its folder.
    std::vector<size_t> listed(classes_.size()), readable(classes_.size());
    std::vector<std::string> folder(classes_.size());
    for (const auto& img : set.images) {
      ++listed[size_t(img.label)];
      folder[size_t(img.label)] = std::filesystem::path(img.path).parent_path().string();
    }
    for (const auto& img : items_) ++readable[size_t(img.label)];
    for (size_t c = 0; c < classes_.size(); ++c)
      if (listed[c] > 0 && readable[c] == 0)
        throw Error(folder[c] + ": none of the " + std::to_string(listed[c]) + " images of class '" + classes_[c] +
                    "' could be read (see the warnings above); fix or remove the folder");
  }
}

cv::Mat ImageCache::get(size_t i) const {
  if (in_memory_) return images_[i];
  return resize_to_input(read_image_rgb(items_[i].path), size_, resize_);
}

}  // namespace imagefit

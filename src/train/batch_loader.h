#pragma once
// The training input pipeline: worker threads take cached images, augment them, and assemble
// normalized batches ahead of the training step in a bounded queue, so training does not wait on
// images when the machine can keep up. Deterministic: sample k of epoch e is transformed with an
// RNG seeded from (seed, e, k), so the same seed gives the same batches whatever the thread count.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include <torch/torch.h>

#include "core/random.h"
#include "models/input.h"
#include "train/image_cache.h"

namespace imagefit {

struct Batch {
  torch::Tensor images;  // N×3×S×S float, normalized
  torch::Tensor labels;  // N int64
  std::vector<size_t> indices;  // positions in the ImageCache
};

// Turns a cached network-size image into a training sample (augmentation). Empty: identity.
using SampleTransform = std::function<cv::Mat(const cv::Mat& rgb, Rng& rng)>;

struct LoaderOptions {
  int batch_size = 32;
  bool shuffle = true;
  bool drop_last = false;
  int threads = 1;    // worker threads that prepare a batch
  int prefetch = 3;   // batches prepared ahead
  uint64_t seed = 0;
  // Data-parallel training (train/distributed.h): this rank's shard of each epoch's order, as
  // PyTorch's DistributedSampler takes it (the order padded by wrapping to a multiple of `world`,
  // then every world-th item from `rank`).
  int rank = 0, world = 1;
  bool pad_shards = true;  // false (evaluation): no item twice, the last shards one item shorter
};

class BatchLoader {
 public:
  BatchLoader(const ImageCache& cache, Normalization norm, SampleTransform transform, LoaderOptions options);
  ~BatchLoader();
  // Starts producing the batches of `epoch` (0-based) in the background.
  void start_epoch(int epoch);
  // The next batch of the current epoch, or nullopt at its end. Rethrows a worker's error.
  std::optional<Batch> next();
  size_t batches_per_epoch() const;
  size_t samples_per_epoch() const;
  // Order of cache indices for an epoch, this rank's shard of it (exposed for tests).
  std::vector<size_t> epoch_order(int epoch) const;
  // Builds one batch synchronously (used by the producer and by tests).
  Batch make_batch(const std::vector<size_t>& order, size_t first, size_t count, int epoch) const;

 private:
  void stop();
  const ImageCache& cache_;
  Normalization norm_;
  SampleTransform transform_;
  LoaderOptions options_;
  std::thread producer_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  bool done_ = true, stop_ = false;
  std::exception_ptr error_;
};

}  // namespace imagefit

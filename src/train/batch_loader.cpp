#include "train/batch_loader.h"

#include <algorithm>
#include <numeric>

#include "core/parallel.h"
#include "models/input_tensor.h"

namespace imagefit {

BatchLoader::BatchLoader(const ImageCache& cache, Normalization norm, SampleTransform transform, LoaderOptions options)
    : cache_(cache), norm_(norm), transform_(std::move(transform)), options_(options) {}

BatchLoader::~BatchLoader() { stop(); }

size_t BatchLoader::samples_per_epoch() const {
  const size_t world = size_t(std::max(1, options_.world)), rank = size_t(std::max(0, options_.rank));
  size_t n = options_.pad_shards || world == 1 ? (cache_.size() + world - 1) / world
             : cache_.size() > rank              ? (cache_.size() - rank + world - 1) / world
                                                 : 0;
  if (options_.drop_last && n >= size_t(options_.batch_size)) n -= n % options_.batch_size;
  return n;
}

size_t BatchLoader::batches_per_epoch() const {
  return (samples_per_epoch() + options_.batch_size - 1) / options_.batch_size;
}

std::vector<size_t> BatchLoader::epoch_order(int epoch) const {
  std::vector<size_t> order(cache_.size());
  std::iota(order.begin(), order.end(), 0);
  if (options_.shuffle) {
    Rng rng(mix_seed({options_.seed, 0x0D0E, uint64_t(epoch)}));
    std::shuffle(order.begin(), order.end(), rng);
  }
  if (options_.world > 1 && !order.empty()) {
    const size_t world = size_t(options_.world), per_rank = (order.size() + world - 1) / world;
    std::vector<size_t> shard;
    for (size_t j = 0; j < per_rank; ++j) {
      const size_t at = j * world + size_t(options_.rank);
      if (at >= order.size() && !options_.pad_shards) break;
      shard.push_back(order[at % order.size()]);
    }
    return shard;
  }
  return order;
}

Batch BatchLoader::make_batch(const std::vector<size_t>& order, size_t first, size_t count, int epoch) const {
  cv::Mat probe = cache_.get(order[first]);
  const int size = probe.rows;
  Batch b;
  b.images = torch::empty({int64_t(count), 3, size, size}, torch::kFloat32);
  b.labels = torch::empty({int64_t(count)}, torch::kInt64);
  b.indices.assign(order.begin() + first, order.begin() + first + count);
  auto* labels = b.labels.data_ptr<int64_t>();
  parallel_for(count, options_.threads, [&](size_t k) {
    const size_t idx = order[first + k];
    cv::Mat img = cache_.get(idx);
    if (transform_) {
      // Seeded by the position in the whole epoch's order, so a shard augments as the single run does.
      const uint64_t position = uint64_t(first + k) * uint64_t(std::max(1, options_.world)) + uint64_t(options_.rank);
      Rng rng(mix_seed({options_.seed, 0xA06, uint64_t(epoch), position}));
      img = transform_(img, rng);
    }
    image_into_tensor(img, norm_, b.images, int64_t(k));
    labels[k] = cache_.label(idx);
  });
  return b;
}

void BatchLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (producer_.joinable()) producer_.join();
  queue_.clear();
}

void BatchLoader::start_epoch(int epoch) {
  stop();
  stop_ = false;
  done_ = false;
  error_ = nullptr;
  producer_ = std::thread([this, epoch] {
    try {
      const auto order = epoch_order(epoch);
      const size_t n = samples_per_epoch();
      for (size_t first = 0; first < n; first += options_.batch_size) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          cv_.wait(lock, [&] { return stop_ || int(queue_.size()) < options_.prefetch; });
          if (stop_) break;
        }
        Batch b = make_batch(order, first, std::min<size_t>(options_.batch_size, n - first), epoch);
        {
          std::lock_guard<std::mutex> lock(mutex_);
          queue_.push_back(std::move(b));
        }
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
  });
}

std::optional<Batch> BatchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return !queue_.empty() || done_; });
  if (error_) std::rethrow_exception(error_);
  if (queue_.empty()) return std::nullopt;
  Batch b = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  cv_.notify_all();
  return b;
}

}  // namespace imagefit

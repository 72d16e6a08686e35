#include "serve/batcher.h"

#include <algorithm>

#include "core/error.h"

namespace imagefit {

PredictionBatcher::PredictionBatcher(Predictor& predictor, int window_ms, int max_batch)
    : predictor_(predictor),
      window_(std::max(0, window_ms)),
      max_batch_(size_t(std::max(1, max_batch))),
      worker_([this] { run(); }) {}

PredictionBatcher::~PredictionBatcher() { stop(); }

std::vector<ClassScore> PredictionBatcher::classify(cv::Mat rgb) {
  auto job = std::make_unique<Job>();
  job->image = std::move(rgb);
  job->arrived = std::chrono::steady_clock::now();
  auto result = job->result.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw Error("the server is shutting down");
    queue_.push_back(std::move(job));
  }
  wake_.notify_all();
  return result.get();
}

void PredictionBatcher::hurry() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    hurry_ = true;
  }
  wake_.notify_all();
}

void PredictionBatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

BatchStats PredictionBatcher::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  BatchStats s = stats_;
  s.waiting = queue_.size();
  return s;
}

void PredictionBatcher::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    // The oldest request waits at most window_ for company; a full batch or shutdown goes at once.
    const auto deadline = queue_.front()->arrived + window_;
    wake_.wait_until(lock, deadline, [&] { return stopping_ || hurry_ || queue_.size() >= max_batch_; });
    std::vector<std::unique_ptr<Job>> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    stats_.batches += 1;
    stats_.images += batch.size();
    stats_.largest = std::max(stats_.largest, int(batch.size()));
    lock.unlock();
    run_batch(batch);
    lock.lock();
  }
}

void PredictionBatcher::run_batch(std::vector<std::unique_ptr<Job>>& batch) {
  std::vector<cv::Mat> images;
  images.reserve(batch.size());
  for (auto& job : batch) images.push_back(job->image);
  try {
    auto results = predictor_.predict(images, 0);
    if (results.size() != batch.size()) throw Error("the model returned " + std::to_string(results.size()) +
                                                    " results for " + std::to_string(batch.size()) + " images");
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->result.set_value(std::move(results[i]));
  } catch (...) {
    // Every request of the batch gets the error (none has a value yet: set_value cannot throw here).
    for (auto& job : batch) {
      try {
        job->result.set_exception(std::current_exception());
      } catch (const std::future_error&) {
      }
    }
  }
}

}  // namespace imagefit

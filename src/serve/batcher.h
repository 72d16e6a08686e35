#pragma once
// Batches predictions that arrive together into one forward pass: the first request waits up to
// `window_ms` for others (up to `max_batch`), then all of them run through the network at once.
// Torch-free header.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>

#include "eval/predictor.h"

namespace imagefit {

struct BatchStats {
  uint64_t batches = 0;  // forward passes run
  uint64_t images = 0;   // images classified
  int largest = 0;       // most images in one forward pass
  size_t waiting = 0;    // images queued now, not yet in a forward pass
};

class PredictionBatcher {
 public:
  // window_ms 0: no waiting (requests already queued are still batched); max_batch ≥ 1.
  PredictionBatcher(Predictor& predictor, int window_ms, int max_batch);
  ~PredictionBatcher();
  PredictionBatcher(const PredictionBatcher&) = delete;
  PredictionBatcher& operator=(const PredictionBatcher&) = delete;

  // Classifies one decoded RGB image and blocks until its batch ran. Returns every class, highest
  // probability first. Rethrows what the forward pass threw; throws Error after stop().
  std::vector<ClassScore> classify(cv::Mat rgb);

  // From now on batches run as soon as the worker is free, without waiting for company (shutdown).
  void hurry();
  // Finishes the queued images, then stops the worker. Idempotent.
  void stop();
  BatchStats stats() const;

 private:
  struct Job {
    cv::Mat image;
    std::promise<std::vector<ClassScore>> result;
    std::chrono::steady_clock::time_point arrived;
  };
  void run();
  void run_batch(std::vector<std::unique_ptr<Job>>& batch);

  Predictor& predictor_;
  const std::chrono::milliseconds window_;
  const size_t max_batch_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stopping_ = false;
  bool hurry_ = false;
  BatchStats stats_;
  std::thread worker_;
};

}  // namespace imagefit

// PredictionBatcher with a fake predictor: requests that arrive together share one forward pass,
// a lone request waits no longer than the window, errors reach every request of the batch.
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "core/error.h"
#include "serve/batcher.h"

namespace imagefit {
namespace {

// "Classifies" an image by its first pixel: class = value % 3, and records the batch sizes.
class FakePredictor : public Predictor {
 public:
  std::vector<std::vector<ClassScore>> predict(const std::vector<cv::Mat>& rgb, int top_k) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      batch_sizes.push_back(rgb.size());
    }
    if (fail) throw std::runtime_error("out of memory (fake)");
    std::vector<std::vector<ClassScore>> out;
    for (const auto& m : rgb) {
      const int c = m.at<cv::Vec3b>(0, 0)[0] % 3;
      std::vector<ClassScore> scores;
      scores.push_back({c, classes_[size_t(c)], 0.8f});
      for (int o = 0; o < 3; ++o)
        if (o != c) scores.push_back({o, classes_[size_t(o)], 0.1f});
      out.push_back(scores);
    }
    return out;
  }
  std::vector<std::vector<float>> probabilities(const std::vector<cv::Mat>&) override { return {}; }
  const std::vector<std::string>& classes() const override { return classes_; }
  int image_size() const override { return 8; }
  const nlohmann::json& metadata() const override { return meta_; }

  std::vector<size_t> sizes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return batch_sizes;
  }
  std::atomic<bool> fail{false};

 private:
  std::mutex mutex_;
  std::vector<size_t> batch_sizes;
  std::vector<std::string> classes_{"a", "b", "c"};
  nlohmann::json meta_ = nlohmann::json::object();
};

cv::Mat image(int value) { return cv::Mat(4, 4, CV_8UC3, cv::Scalar(value, 0, 0)); }

TEST(PredictionBatcher, RequestsThatArriveTogetherShareOneForwardPass) {
  FakePredictor predictor;
  // A window far longer than the test: the batch runs because it is full.
  PredictionBatcher batcher(predictor, 60000, 8);
  std::vector<std::string> labels(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] { labels[size_t(i)] = batcher.classify(image(i))[0].label; });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(labels[size_t(i)], std::string(1, char('a' + i % 3))) << i;
  EXPECT_EQ(predictor.sizes(), std::vector<size_t>{8});
  const BatchStats s = batcher.stats();
  EXPECT_EQ(s.batches, 1u);
  EXPECT_EQ(s.images, 8u);
  EXPECT_EQ(s.largest, 8);
  EXPECT_EQ(s.waiting, 0u);
}

TEST(PredictionBatcher, ALoneRequestWaitsForTheWindowOnly) {
  FakePredictor predictor;
  PredictionBatcher batcher(predictor, 150, 16);
  const auto start = std::chrono::steady_clock::now();
  auto result = batcher.classify(image(4));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(result[0].label, "b");
  EXPECT_EQ(result.size(), 3u);
  EXPECT_GE(ms, 140.0);
  EXPECT_LT(ms, 5000.0);
}

TEST(PredictionBatcher, MaxBatchSplitsABurst) {
  FakePredictor predictor;
  PredictionBatcher batcher(predictor, 60000, 4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 12; ++i) threads.emplace_back([&, i] { batcher.classify(image(i)); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(predictor.sizes(), (std::vector<size_t>{4, 4, 4}));
}

TEST(PredictionBatcher, AFailedForwardPassFailsEveryRequestInItAndTheNextOnesWork) {
  FakePredictor predictor;
  PredictionBatcher batcher(predictor, 60000, 3);
  predictor.fail = true;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      try {
        batcher.classify(image(i));
      } catch (const std::runtime_error& e) {
        if (std::string(e.what()).find("out of memory") != std::string::npos) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 3);
  predictor.fail = false;
  PredictionBatcher quick(predictor, 0, 3);
  EXPECT_EQ(quick.classify(image(2))[0].label, "c");
}

TEST(PredictionBatcher, HurryAndStopDoNotWaitForTheWindow) {
  FakePredictor predictor;
  PredictionBatcher batcher(predictor, 60000, 16);
  std::string label;
  std::thread t([&] { label = batcher.classify(image(1))[0].label; });
  while (batcher.stats().waiting == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto start = std::chrono::steady_clock::now();
  batcher.hurry();
  t.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  EXPECT_EQ(label, "b");
  batcher.stop();
  EXPECT_THROW(batcher.classify(image(0)), Error);
}

}  // namespace
}  // namespace imagefit

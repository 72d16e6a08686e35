// The input pipeline: deterministic batches whatever the thread count, every image once an epoch.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "core/fs.h"
#include "test_support.h"
#include "train/batch_loader.h"

using namespace imagefit;

namespace {
ImageSet make_images(const fs::path& dir, int per_class) {
  ImageSet set;
  set.classes = {"dark", "light"};
  for (int c = 0; c < 2; ++c) {
    fs::create_directories(dir / set.classes[c]);
    for (int i = 0; i < per_class; ++i) {
      cv::Mat img(20 + i, 24, CV_8UC3, cv::Scalar(c * 200 + i, 10 * i, 5));
      const std::string path = (dir / set.classes[c] / (std::to_string(i) + ".png")).string();
      cv::imwrite(path, img);
      set.images.push_back({path, c});
    }
  }
  return set;
}

std::vector<torch::Tensor> run_epoch(const ImageCache& cache, int threads, int epoch) {
  LoaderOptions lo;
  lo.batch_size = 4;
  lo.threads = threads;
  lo.seed = 7;
  // A random transform: brightness noise drawn from the per-sample RNG.
  SampleTransform t = [](const cv::Mat& m, Rng& rng) {
    cv::Mat out;
    m.convertTo(out, -1, 1.0, double(rng() % 50));
    return out;
  };
  BatchLoader loader(cache, Normalization::Unit, t, lo);
  loader.start_epoch(epoch);
  std::vector<torch::Tensor> out;
  while (auto b = loader.next()) {
    out.push_back(b->images);
    out.push_back(b->labels.to(torch::kFloat32));
  }
  return out;
}
}  // namespace

TEST(BatchLoader, SameSeedSameBatchesForAnyThreadCount) {
  TempDir dir;
  ImageCache cache(make_images(dir.path(), 9), 16, ResizeMode::Squash, 2, false, size_t(1) << 30, false);
  auto one = run_epoch(cache, 1, 0), four = run_epoch(cache, 4, 0), again = run_epoch(cache, 3, 0);
  ASSERT_EQ(one.size(), four.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_TRUE(torch::equal(one[i], four[i])) << i;
    EXPECT_TRUE(torch::equal(one[i], again[i])) << i;
  }
  auto next_epoch = run_epoch(cache, 2, 1);
  bool differs = false;
  for (size_t i = 0; i < one.size(); ++i) differs |= !torch::equal(one[i], next_epoch[i]);
  EXPECT_TRUE(differs) << "epochs must be shuffled and augmented differently";
}

TEST(BatchLoader, EveryImageOnceAnEpoch) {
  TempDir dir;
  ImageCache cache(make_images(dir.path(), 7), 16, ResizeMode::Squash, 2, false, size_t(1) << 30, false);
  LoaderOptions lo;
  lo.batch_size = 5;
  BatchLoader loader(cache, Normalization::Unit, nullptr, lo);
  EXPECT_EQ(loader.batches_per_epoch(), 3u);
  loader.start_epoch(0);
  std::multiset<size_t> seen;
  while (auto b = loader.next()) {
    for (size_t k = 0; k < b->indices.size(); ++k) {
      seen.insert(b->indices[k]);
      EXPECT_EQ(b->labels[int64_t(k)].item<int64_t>(), cache.label(b->indices[k]));
    }
  }
  EXPECT_EQ(seen.size(), 14u);
  EXPECT_EQ(std::set<size_t>(seen.begin(), seen.end()).size(), 14u);
}

TEST(ImageCache, UnreadableImagesAreReportedAndSkippedOrFatalWhenStrict) {
  TempDir dir;
  ImageSet set = make_images(dir.path(), 3);
  const std::string bad = (dir.path() / "dark" / "broken.jpg").string();
  atomic_write_text(bad, "\xFF\xD8\xFF not really a jpeg");
  set.images.push_back({bad, 0});
  ImageCache cache(set, 16, ResizeMode::Squash, 2, false, size_t(1) << 30, false);
  EXPECT_EQ(cache.size(), 6u);
  ASSERT_EQ(cache.bad_images().size(), 1u);
  EXPECT_EQ(cache.bad_images()[0].path, bad);
  EXPECT_NE(cache.bad_images()[0].reason.find(bad), std::string::npos);
  try {
    ImageCache strict(set, 16, ResizeMode::Squash, 2, true, size_t(1) << 30, false);
    FAIL() << "strict mode must fail";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("broken.jpg"), std::string::npos);
  }
}

TEST(ImageCache, FallsBackToDecodingWhenOverTheMemoryLimit) {
  TempDir dir;
  ImageSet set = make_images(dir.path(), 3);
  ImageCache small(set, 16, ResizeMode::Squash, 2, false, /*max_bytes=*/100, false);
  ImageCache big(set, 16, ResizeMode::Squash, 2, false, size_t(1) << 30, false);
  EXPECT_FALSE(small.in_memory());
  EXPECT_TRUE(big.in_memory());
  for (size_t i = 0; i < big.size(); ++i) {
    cv::Mat a = small.get(i), b = big.get(i);
    EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0) << i;
  }
}

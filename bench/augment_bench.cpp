// Augmented images per second, as a training input pipeline produces them: decode (or take from a
// cache) + augment + convert to float CHW (x / 255), all images of an epoch spread over all cores
// with parallel_for. Compare with bench/torchvision_augment.py (bench/run_augment_bench.sh runs both).
//
//   augment_bench --data ../shared/data/cats-dogs [--size 180] [--augment keras-tutorial]
//                 [--epochs 3] [--threads N] [--cv-threads 1]
//
// Prints one "RESULT <mode> <images/s>" line per mode:
//   decode_each_time  JPEG decode + augment + float CHW, every epoch (no cache)
//   cached_decoded    images decoded once at full size and kept in memory; augment + float CHW
//   cached_network    images kept at the network size (what train/ImageCache holds); augment + float CHW
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <sys/resource.h>

#include <opencv2/core.hpp>

#include "augment/augmenter.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/random.h"
#include "data/dataset.h"
#include "core/fs.h"
#include "data/image_io.h"

namespace {

using imagefit::Augmenter;
using imagefit::Rng;

struct Options {
  std::string data = "../shared/data/cats-dogs";
  int size = 180;
  std::string augment = "keras-tutorial";
  int epochs = 3;
  int threads = imagefit::hardware_threads();
  int cv_threads = 1;
};

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw imagefit::Error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--data") o.data = value();
    else if (a == "--size") o.size = std::stoi(value());
    else if (a == "--augment") o.augment = value();
    else if (a == "--epochs") o.epochs = std::stoi(value());
    else if (a == "--threads") o.threads = std::stoi(value());
    else if (a == "--cv-threads") o.cv_threads = std::stoi(value());
    else throw imagefit::Error("unknown argument " + a + " (see the comment at the top of bench/augment_bench.cpp)");
  }
  return o;
}

// x / 255 into one CHW plane set (the Keras tutorial's rescale=1/255).
void to_float_chw(const cv::Mat& rgb, float* out) {
  const int h = rgb.rows, w = rgb.cols;
  float* planes[3] = {out, out + h * w, out + 2 * h * w};
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < w; ++x) {
      planes[0][y * w + x] = row[3 * x] * (1.f / 255);
      planes[1][y * w + x] = row[3 * x + 1] * (1.f / 255);
      planes[2][y * w + x] = row[3 * x + 2] * (1.f / 255);
    }
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU seconds of this process (all threads): with other jobs on the machine, images per CPU-second
// still measure the work per image.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

struct Throughput {
  double per_second;      // wall clock
  double per_cpu_second;  // CPU time of all threads
};

// Runs `epochs` passes; `get(i)` yields the decoded image i.
template <typename Get>
Throughput run(const Options& o, const Augmenter& aug, size_t n, Get get, double* checksum) {
  const size_t chunk = static_cast<size_t>(std::max(1, o.threads)) * 64;  // images in flight between barriers
  const size_t plane = size_t(3) * o.size * o.size;
  std::vector<float> buffer(chunk * plane);
  std::vector<double> sums(chunk);
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    for (size_t first = 0; first < n; first += chunk) {
      const size_t count = std::min(chunk, n - first);
      imagefit::parallel_for(count, o.threads, [&](size_t k) {
        const size_t i = first + k;
        Rng rng(imagefit::mix_seed({42, uint64_t(epoch), i}));
        const cv::Mat out = aug.apply(get(i), rng);
        float* dst = buffer.data() + k * plane;
        to_float_chw(out, dst);
        sums[k] = dst[plane / 2];
      });
      for (size_t k = 0; k < count; ++k) *checksum += sums[k];
    }
  }
  const double images = double(n) * o.epochs;
  return {images / seconds_since(t0), images / (cpu_seconds() - c0)};
}

void report(const char* mode, const Throughput& t) {
  std::printf("RESULT %s %.1f images/s (%.1f images per CPU-second)\n", mode, t.per_second, t.per_cpu_second);
  std::fflush(stdout);
}

// Single-thread cost of each stage, in ms per image, to show where the time goes.
void profile_stages(const std::vector<cv::Mat>& decoded, const std::vector<std::string>& paths, const Augmenter& aug, int size) {
  const size_t n = std::min<size_t>(200, decoded.size());
  std::vector<float> chw(size_t(3) * size * size);
  auto time_ms = [&](auto&& body) {
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < n; ++i) body(i);
    return seconds_since(t0) * 1e3 / n;
  };
  const double decode = time_ms([&](size_t i) { imagefit::read_image_rgb(paths[i]); });
  const double augment = time_ms([&](size_t i) {
    Rng rng(i);
    aug.apply(decoded[i], rng);
  });
  const double resize = time_ms([&](size_t i) { imagefit::resize_for_network(decoded[i], size, size); });
  const cv::Mat small = imagefit::resize_for_network(decoded[0], size, size);
  const double augment_small = time_ms([&](size_t i) {
    Rng rng(i);
    aug.apply(small, rng);
  });
  const double convert = time_ms([&](size_t) { to_float_chw(small, chw.data()); });
  std::printf("  one thread, ms per image: decode %.2f | augment from full size %.2f | plain resize %.2f | "
              "augment from %dx%d %.2f | float CHW %.2f\n",
              decode, augment, resize, size, size, augment_small, convert);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse_args(argc, argv);
    cv::setNumThreads(o.cv_threads);  // parallel over images; OpenCV's own threads only add contention
    const imagefit::ImageSet set = imagefit::scan_class_folders(o.data);
    const size_t n = set.images.size();
    const Augmenter aug(imagefit::parse_augment(o.augment), o.size, o.size);
    std::printf("augment_bench: %zu images in %s, %dx%d, augment %s, %d epochs, %d threads (OpenCV threads %d)\n", n,
                o.data.c_str(), o.size, o.size, imagefit::describe(aug.params()).c_str(), o.epochs, o.threads,
                o.cv_threads);
    double checksum = 0;

    // Warm the page cache so the first mode does not pay for disk reads.
    size_t bytes = 0;
    for (const auto& item : set.images) bytes += imagefit::read_file(item.path).size();
    std::printf("  %.1f MB of image files\n", bytes / 1e6);

    const Throughput decode_each_time =
        run(o, aug, n, [&](size_t i) { return imagefit::read_image_rgb(set.images[i].path); }, &checksum);
    report("decode_each_time", decode_each_time);

    std::vector<cv::Mat> decoded(n), network(n);
    auto t0 = std::chrono::steady_clock::now();
    imagefit::parallel_for(n, o.threads, [&](size_t i) { decoded[i] = imagefit::read_image_rgb(set.images[i].path); });
    std::printf("  decoding all once: %.2f s (%.1f images/s)\n", seconds_since(t0), n / seconds_since(t0));
    const Throughput cached_decoded = run(o, aug, n, [&](size_t i) -> const cv::Mat& { return decoded[i]; }, &checksum);
    report("cached_decoded", cached_decoded);

    imagefit::parallel_for(n, o.threads,
                           [&](size_t i) { network[i] = imagefit::resize_for_network(decoded[i], o.size, o.size); });
    const Throughput cached_network = run(o, aug, n, [&](size_t i) -> const cv::Mat& { return network[i]; }, &checksum);
    report("cached_network", cached_network);
    std::vector<std::string> paths;
    for (const auto& item : set.images) paths.push_back(item.path);
    profile_stages(decoded, paths, aug, o.size);
    std::printf("  (checksum %.3f)\n", checksum);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "augment_bench: " << e.what() << "\n";
    return 1;
  }
}

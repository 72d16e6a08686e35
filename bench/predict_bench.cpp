// Single-image predict latency with a loaded model: what `imagefit predict` and `serve` pay for one
// image once the model is in memory. Compare with `bench/torch_peer.py predict` (bench/compare.sh
// runs both).
//
//   predict_bench MODEL IMAGE [calls 50] [threads: all cores] [warmup 5] [precision auto]
//
// precision (auto | fp32 | bf16, as `imagefit predict --precision`) is used where this imagefit has
// models/precision.h; without it everything runs in fp32.
//
// Prints one JSON line per mode, with the median (p50), p90 and mean of `calls` timed calls after
// `warmup` untimed ones:
//   predict  Predictor::probabilities on the decoded image (resize as trained, normalize, frozen
//            graph forward, softmax): the whole per-image cost of predict / serve after decoding
//   forward  the frozen graph's logits + softmax on a ready 1×3×S×S tensor (the bare forward call)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "data/image_io.h"
#include "eval/predictor.h"
#include "models/frozen_features.h"
#include "weights/saved_model.h"
#if __has_include("models/precision.h")
#include "models/precision.h"
#define IMAGEFIT_BENCH_PRECISION 1
#endif

namespace {

struct Stats {
  double p50 = 0, p90 = 0, mean = 0;
};

Stats time_calls(int calls, int warmup, const std::function<void()>& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> ms;
  for (int i = 0; i < calls; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  Stats s;
  for (double v : ms) s.mean += v / ms.size();
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, size_t(q * (ms.size() - 1) + 0.5))]; };
  s.p50 = at(0.5);
  s.p90 = at(0.9);
  return s;
}

void print(const char* mode, const std::string& model, const std::string& precision, int size, int calls, int threads,
           const Stats& s) {
  std::printf("{\"program\": \"imagefit\", \"workload\": \"predict\", \"mode\": \"%s\", \"model\": \"%s\", "
              "\"precision\": \"%s\", \"size\": %d, \"calls\": %d, \"threads\": %d, \"p50_ms\": %.3f, \"p90_ms\": %.3f, "
              "\"mean_ms\": %.3f}\n",
              mode, model.c_str(), precision.c_str(), size, calls, threads, s.p50, s.p90, s.mean);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace imagefit;
  if (argc < 3) {
    std::fprintf(stderr, "usage: predict_bench MODEL IMAGE [calls] [threads] [warmup] [precision]\n");
    return 2;
  }
  try {
    const std::string model_path = argv[1], image_path = argv[2];
    const int calls = argc > 3 ? std::max(1, std::atoi(argv[3])) : 50;
    const int threads = argc > 4 ? std::atoi(argv[4]) : int(std::thread::hardware_concurrency());
    const int warmup = argc > 5 ? std::max(0, std::atoi(argv[5])) : 5;
    const std::string requested = argc > 6 ? argv[6] : "auto";
    torch::set_num_threads(threads);

    // As predict / serve: the model file loaded once, then one decoded image a call.
#ifdef IMAGEFIT_BENCH_PRECISION
    const Precision precision = resolve_precision(precision_from_string(requested), false);
    const std::string precision_name = to_string(precision);
    auto predictor = Predictor::open(model_path, "cpu", precision_name);
#else
    const std::string precision_name = "fp32";
    auto predictor = Predictor::open(model_path, "cpu");
#endif
    const int size = predictor->image_size();
    const cv::Mat rgb = read_image_rgb(image_path);
    double check = 0;
    print("predict", model_path, precision_name, size, calls, threads,
          time_calls(calls, warmup, [&] { check += predictor->probabilities({rgb})[0][0]; }));

    // The bare forward call on a ready tensor, as the PyTorch peer's model(x).
    SavedModel model = load_model(model_path);
#ifdef IMAGEFIT_BENCH_PRECISION
    FrozenFeatures frozen(model.network, size, precision);
#else
    FrozenFeatures frozen(model.network, size);
#endif
    torch::NoGradGuard no_grad;
    const torch::Tensor x = torch::rand({1, 3, size, size}) * 2 - 1;
    print("forward", model_path, precision_name, size, calls, threads, time_calls(calls, warmup, [&] {
            check += torch::softmax(frozen.logits(x), 1)[0][0].item<double>();
          }));
    std::fprintf(stderr, "predict_bench: checksum %.4f\n", check);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "predict_bench: %s\n", e.what());
    return 1;
  }
}

// Frozen-backbone throughput: images/s of a backbone's forward pass (inference, no grad) on random
// input, the cost of `--strategy feature-extract` and of predict. Compare with
// bench/torch_backbone.py (the same networks in PyTorch) through bench/run_backbone_bench.sh.
// Usage: backbone_bench ARCH [alpha] [size] [batch] [iterations] [threads]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include <torch/torch.h>

#include "models/classifier.h"
#include "models/frozen_features.h"
#include "models/registry.h"

int main(int argc, char** argv) {
  using namespace imagefit;
  if (argc < 2) {
    std::fprintf(stderr, "usage: backbone_bench ARCH [alpha] [size] [batch] [iterations] [threads]\n");
    return 2;
  }
  const std::string arch = argv[1];
  BackboneOptions options;
  options.alpha = argc > 2 ? std::atof(argv[2]) : 1.0;
  const int size = argc > 3 ? std::atoi(argv[3]) : 224;
  const int batch = argc > 4 ? std::atoi(argv[4]) : 32;
  const int iterations = argc > 5 ? std::atoi(argv[5]) : 5;
  const int threads = argc > 6 ? std::atoi(argv[6]) : int(std::thread::hardware_concurrency());
  options.image_size = size;
  torch::set_num_threads(threads);
  torch::NoGradGuard no_grad;
  // Through the Classifier, so the backbone runs in the memory layout imagefit uses for it.
  Backbone backbone = make_backbone(arch, options);
  HeadOptions head;
  head.in_features = 1;  // unused: only the feature map is timed
  Classifier net(backbone, head);
  net->eval();
  auto x = torch::rand({batch, 3, size, size});
  auto time_it = [&](const char* mode, const std::function<torch::Tensor(const torch::Tensor&)>& f) {
    f(x);  // warm-up (oneDNN primitive creation)
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) f(x);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"program\": \"imagefit\", \"mode\": \"%s\", \"arch\": \"%s\", \"alpha\": %g, \"size\": %d, "
                "\"batch\": %d, \"threads\": %d, \"images_per_second\": %.1f}\n",
                mode, arch.c_str(), options.alpha, size, batch, threads, batch * iterations / s);
  };
  // The module as trained (eager), and the frozen graph predict / serve / feature extraction use.
  time_it("eager", [&](const torch::Tensor& in) { return net->features(in); });
  FrozenFeatures frozen(net, size);
  time_it("frozen", [&](const torch::Tensor& in) { return frozen(in); });
  return 0;
}

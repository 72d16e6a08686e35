// Training-step throughput without the data pipeline: images/s of forward + backward + Adam step of a
// whole classifier (every layer trainable, the backbone's BatchNorm in inference mode as fine-tuning
// runs it) on random input, at fp32 or bf16 autocast. Separates the network's own cost from the
// loader's in the fine-tune and scratch epochs; compare with
// `bench/torch_peer.py train-step` (torchvision's network, same loop).
// Usage: train_step_bench ARCH [alpha] [size] [batch] [iterations] [precision fp32|bf16] [threads]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <torch/torch.h>

#include "models/classifier.h"
#include "models/precision.h"
#include "models/registry.h"

int main(int argc, char** argv) {
  using namespace imagefit;
  if (argc < 2) {
    std::fprintf(stderr, "usage: train_step_bench ARCH [alpha] [size] [batch] [iterations] [fp32|bf16] [threads]\n");
    return 2;
  }
  const std::string arch = argv[1];
  BackboneOptions options;
  options.alpha = argc > 2 ? std::atof(argv[2]) : 1.0;
  const int size = argc > 3 ? std::atoi(argv[3]) : 224;
  const int batch = argc > 4 ? std::atoi(argv[4]) : 32;
  const int iterations = argc > 5 ? std::atoi(argv[5]) : 10;
  const std::string precision_name = argc > 6 ? argv[6] : "fp32";
  const int threads = argc > 7 ? std::atoi(argv[7]) : int(std::thread::hardware_concurrency());
  const Precision precision = precision_name == "bf16" ? Precision::BF16 : Precision::FP32;
  options.image_size = size;
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  Backbone backbone = make_backbone(arch, options);
  HeadOptions head;
  head.in_features = backbone->feature_channels();
  head.classes = 2;
  Classifier net(backbone, head);
  net->train();
  net->backbone()->eval();  // Keras trainable=False BatchNorm, as imagefit fine-tunes
  torch::optim::Adam optimizer({torch::optim::OptimizerParamGroup(net->backbone()->parameters(),
                                                                  std::make_unique<torch::optim::AdamOptions>(1e-4)),
                                torch::optim::OptimizerParamGroup(net->head()->parameters(),
                                                                  std::make_unique<torch::optim::AdamOptions>(1e-3))});
  auto x = torch::rand({batch, 3, size, size}) * 2 - 1;
  auto y = torch::randint(0, 2, {batch}, torch::kInt64);
  auto step = [&] {
    optimizer.zero_grad();
    torch::Tensor logits;
    {
      AutocastScope autocast(precision, false);
      logits = net->forward(x);
    }
    auto loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat), y);
    loss.backward();
    optimizer.step();
    return loss.item<double>();
  };
  for (int i = 0; i < 2; ++i) step();  // warm-up: oneDNN primitives
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) step();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"program\": \"imagefit\", \"workload\": \"train-step\", \"arch\": \"%s\", \"alpha\": %g, \"size\": %d, "
              "\"batch\": %d, \"precision\": \"%s\", \"threads\": %d, \"images_per_second\": %.1f}\n",
              arch.c_str(), options.alpha, size, batch, precision_name.c_str(), threads, batch * iterations / s);
  return 0;
}

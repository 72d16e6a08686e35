// The Keras tutorial's convnet: exact shapes at 180 (all 'valid', as Keras) and small sizes still work.
#include "models/simple_cnn.h"
#include "test_support.h"
#include "weights/saved_model.h"

using namespace imagefit;

TEST(SimpleCnn, MatchesKerasShapesAt180) {
  SimpleCnnImpl net(180);
  torch::NoGradGuard ng;
  auto y = net.forward(torch::zeros({1, 3, 180, 180}));
  // Keras: 180→178→89→87→43→41→20→18→9→7, 256 channels.
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({1, 256, 7, 7}));
  int64_t params = 0;
  for (auto& p : net.parameters()) params += p.numel();
  // Conv parameters of the Keras model summary: 896 + 18,496 + 73,856 + 295,168 + 590,080.
  EXPECT_EQ(params, 896 + 18496 + 73856 + 295168 + 590080);
}

TEST(SimpleCnn, SmallInputsDoNotShrinkToNothing) {
  torch::NoGradGuard ng;
  for (int size : {16, 32, 48, 64, 100}) {
    SimpleCnnImpl net(size);
    auto y = net.forward(torch::zeros({2, 3, size, size}));
    EXPECT_GE(y.size(2), 1) << size;
    EXPECT_EQ(y.size(2), net.output_size()) << size;
  }
  EXPECT_THROW(SimpleCnnImpl(8), std::exception);
}

// Keras's glorot_uniform: U(-b, b) with b = sqrt(6 / (fan_in + fan_out)), fan = channels × kernel
// area; biases zero. Checked on each layer's range and spread, and on the Dense head.
TEST(SimpleCnn, InitializedLikeKeras) {
  torch::manual_seed(1);
  NetworkSpec spec;
  spec.arch = "simple-cnn";
  spec.image_size = 64;
  spec.classes = {"a", "b", "c"};
  spec.head.pooling = "flatten";
  Classifier net = build_network(spec);
  init_like_keras(*net);
  int kernels = 0;
  for (const auto& p : net->named_parameters()) {
    const auto& w = p.value();
    if (p.key().find("bias") != std::string::npos) {
      EXPECT_EQ(w.abs().max().item<float>(), 0.0f) << p.key();
      continue;
    }
    const int64_t area = w.dim() == 4 ? w.size(2) * w.size(3) : 1;
    const double bound = std::sqrt(6.0 / double(w.size(1) * area + w.size(0) * area));
    EXPECT_LE(w.abs().max().item<double>(), bound * (1 + 1e-6)) << p.key();
    // A uniform distribution on [-b, b] has standard deviation b/√3.
    EXPECT_NEAR(w.std().item<double>(), bound / std::sqrt(3.0), 0.1 * bound / std::sqrt(3.0)) << p.key();
    ++kernels;
  }
  EXPECT_EQ(kernels, 6);  // five convolutions and the Dense layer
}

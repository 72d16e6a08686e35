// The Keras tutorial's convnet: exact shapes at 180 (all 'valid', as Keras) and small sizes still work.
#include "models/simple_cnn.h"
#include "test_support.h"

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

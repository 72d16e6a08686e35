// The linear-probe head: multinomial logistic regression by L-BFGS, L2 chosen on validation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "train/logistic_regression.h"

namespace imagefit {
namespace {

namespace F = torch::nn::functional;

// Three Gaussian blobs in 6 dimensions, overlapping a little.
void blobs(int64_t n, uint64_t seed, torch::Tensor& x, torch::Tensor& y) {
  torch::manual_seed(int64_t(seed));
  y = torch::randint(0, 3, {n}, torch::kInt64);
  auto centers = torch::tensor({{2.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f},
                                {0.0f, 2.0f, 0.0f, 0.0f, 1.0f, 0.0f},
                                {0.0f, 0.0f, 2.0f, 0.0f, 0.0f, 1.0f}});
  x = centers.index_select(0, y) + torch::randn({n, 6});
}

TEST(LogisticRegression, ConvergesToTheRegularizedOptimum) {
  torch::Tensor x, y, vx, vy;
  blobs(300, 1, x, y);
  blobs(150, 2, vx, vy);
  const double l2 = 1e-2;
  LogisticFit fit = fit_logistic_regression(x, y, vx, vy, 3, {l2});
  EXPECT_EQ(fit.l2, l2);
  ASSERT_EQ(fit.weight.sizes(), (std::vector<int64_t>{3, 6}));
  // At the optimum the gradient of the penalized loss on the raw features vanishes.
  auto w = fit.weight.clone().set_requires_grad(true), b = fit.bias.clone().set_requires_grad(true);
  auto loss = F::cross_entropy(torch::addmm(b, x, w.t()), y) + 0.5 * l2 * w.pow(2).sum();
  loss.backward();
  EXPECT_LT(w.grad().abs().max().item<double>(), 1e-4);
  EXPECT_LT(b.grad().abs().max().item<double>(), 1e-4);
  // Blobs this far apart: most points are classified right, and the reported numbers are the real ones.
  EXPECT_GT(fit.val_accuracy, 0.8);
  torch::NoGradGuard no_grad;
  auto vlogits = torch::addmm(fit.bias, vx, fit.weight.t());
  EXPECT_NEAR(fit.val_loss, F::cross_entropy(vlogits, vy).item<double>(), 1e-6);
  EXPECT_NEAR(fit.val_accuracy, vlogits.argmax(1).eq(vy).to(torch::kFloat64).mean().item<double>(), 1e-12);
}

TEST(LogisticRegression, ChoosesTheL2WithTheLowestValidationLoss) {
  torch::Tensor x, y, vx, vy;
  blobs(60, 3, x, y);  // few samples, so the penalty matters
  blobs(300, 4, vx, vy);
  const std::vector<double> grid = {1.0, 1e-1, 1e-2, 1e-3, 1e-5};
  LogisticFit chosen = fit_logistic_regression(x, y, vx, vy, 3, grid);
  for (double l2 : grid) {
    LogisticFit one = fit_logistic_regression(x, y, vx, vy, 3, {l2});
    EXPECT_LE(chosen.val_loss, one.val_loss + 1e-4) << "l2 " << l2;
  }
  EXPECT_NE(std::find(grid.begin(), grid.end(), chosen.l2), grid.end());
}

}  // namespace
}  // namespace imagefit

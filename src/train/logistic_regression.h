#pragma once
// Multinomial logistic regression on frozen-backbone features, trained to convergence with L-BFGS
// (what scikit-learn's LogisticRegression does), with the L2 strength chosen on the validation set.
// This is the "linear probe": the strongest head for small data, and the measure `--strategy auto`
// uses to judge how well ImageNet features already fit the task.
#include <torch/torch.h>

#include <vector>

namespace imagefit {

struct LogisticFit {
  torch::Tensor weight, bias;  // classes × features, classes
  double l2 = 0;               // penalty 0.5·l2·|W|² on the mean cross-entropy
  double train_loss = 0, train_accuracy = 0;
  double val_loss = 0, val_accuracy = 0;
  int iterations = 0;
};

// x: N×F float, y: N int64 class indices in [0, classes). Tries each l2 in `l2_grid` (default a
// log grid) and keeps the fit with the lowest validation loss. Deterministic.
LogisticFit fit_logistic_regression(const torch::Tensor& train_x, const torch::Tensor& train_y,
                                    const torch::Tensor& val_x, const torch::Tensor& val_y, int64_t classes,
                                    std::vector<double> l2_grid = {});

}  // namespace imagefit

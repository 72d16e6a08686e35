// Early stopping (train/callbacks.h): patience counted on val_loss against the best epoch of any
// phase, leaving the phase's first `grace` epochs out.
#include <gtest/gtest.h>

#include "train/callbacks.h"

namespace imagefit {
namespace {

// Runs epochs with these val_losses (the first one in phase "probe", the rest in "fine-tune") and
// returns how many fine-tune epochs ran before early stopping ended the phase.
int fine_tune_epochs_run(const std::vector<double>& fine_tune_losses, int patience, int grace) {
  TrainState s;
  EpochRecord probe;
  probe.phase = "probe";
  probe.val_loss = 0.10;
  s.end_epoch(probe);
  s.callbacks.push_back(early_stopping(patience, grace));
  int run = 0;
  for (double loss : fine_tune_losses) {
    EpochRecord r;
    r.phase = "fine-tune";
    r.val_loss = loss;
    ++run;
    if (!s.end_epoch(r)) break;
  }
  return run;
}

TEST(EarlyStopping, CountsPatienceAfterTheGraceEpochs) {
  // Worse than the probe for the first three epochs, then better.
  const std::vector<double> dip{0.30, 0.20, 0.12, 0.08, 0.06, 0.05};
  EXPECT_EQ(fine_tune_epochs_run(dip, 3, 0), 3);  // stopped in the dip
  EXPECT_EQ(fine_tune_epochs_run(dip, 3, 2), 6);  // the grace lets it reach the improvement
  // Never better than the probe: stops after grace + patience epochs.
  const std::vector<double> worse(10, 0.2);
  EXPECT_EQ(fine_tune_epochs_run(worse, 3, 2), 5);
  EXPECT_EQ(fine_tune_epochs_run(worse, 3, 0), 3);
  // Improves at epoch 4, then worse: patience counts from the best as usual.
  const std::vector<double> best_at_4{0.3, 0.3, 0.3, 0.05, 0.2, 0.2, 0.2, 0.2, 0.2};
  EXPECT_EQ(fine_tune_epochs_run(best_at_4, 3, 2), 7);
  EXPECT_EQ(fine_tune_epochs_run(worse, 0, 2), 10);  // patience 0: off
}

}  // namespace
}  // namespace imagefit

namespace imagefit {
namespace {

// --monitor val_accuracy keeps the epoch of the highest val_accuracy (ties: the lower val_loss), where
// val_loss would keep another; early stopping then counts epochs without a better accuracy.
TEST(Monitor, ValAccuracyKeepsTheMostAccurateEpoch) {
  struct E {
    double loss, acc;
  };
  const std::vector<E> epochs{{0.30, 0.90}, {0.25, 0.91}, {0.28, 0.94}, {0.27, 0.94}, {0.20, 0.93}};
  auto best_with = [&](Monitor m) {
    TrainState s;
    s.monitor = m;
    for (const auto& e : epochs) {
      EpochRecord r;
      r.val_loss = e.loss;
      r.val_accuracy = e.acc;
      s.end_epoch(r);
    }
    return std::make_pair(s.best_epoch, s.best_val_loss);
  };
  EXPECT_EQ(best_with(Monitor::ValLoss), std::make_pair(5, 0.20));
  EXPECT_EQ(best_with(Monitor::ValAccuracy), std::make_pair(4, 0.27));  // 0.94 twice: the lower loss

  TrainState s;
  s.monitor = Monitor::ValAccuracy;
  s.callbacks.push_back(early_stopping(2));
  int ran = 0;
  for (const auto& e : std::vector<E>{{0.5, 0.80}, {0.4, 0.85}, {0.3, 0.85}, {0.2, 0.84}, {0.1, 0.83}, {0.1, 0.99}}) {
    EpochRecord r;
    r.val_loss = e.loss;
    r.val_accuracy = e.acc;
    ++ran;
    if (!s.end_epoch(r)) break;
  }
  // Epoch 3 ties epoch 2's accuracy with a lower loss (an improvement); epochs 4 and 5 have lower
  // losses but lower accuracies: patience 2 ends the run there, epoch 3 kept.
  EXPECT_EQ(ran, 5);
  EXPECT_EQ(s.best_epoch, 3);
  EXPECT_EQ(to_string(Monitor::ValAccuracy), "val_accuracy");
  EXPECT_EQ(monitor_from_string("val_loss"), Monitor::ValLoss);
  EXPECT_THROW(monitor_from_string("accuracy"), std::exception);
}

}  // namespace
}  // namespace imagefit

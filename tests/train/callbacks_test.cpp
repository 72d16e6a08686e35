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

#pragma once
// Per-epoch training history: what `train` writes as history.csv next to the model and what
// the curves and reports read.
#include <string>
#include <vector>

namespace imagefit {

struct EpochRecord {
  int epoch = 0;  // 1-based
  std::string phase = "train";  // "head" / "fine-tune" for two-phase transfer learning
  double train_loss = 0, train_accuracy = 0;
  double val_loss = 0, val_accuracy = 0;
  double learning_rate = 0;
  double seconds = 0;             // wall time of the epoch
  double images_per_second = 0;   // training throughput
};

using History = std::vector<EpochRecord>;

std::string history_to_csv(const History& h);
History history_from_csv(const std::string& text);  // throws Error on malformed text
// Index (into h) of the epoch with the lowest finite val_loss; -1 if there is none.
int best_epoch_index(const History& h);

}  // namespace imagefit

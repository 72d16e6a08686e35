#pragma once
// Training callbacks (fastai's / Keras's layering): the phases (train/phases.h) run the loops and
// report each epoch to TrainState::end_epoch, which keeps the best epoch and then asks each
// callback in turn; saving, history files, printing, early stopping and the time budget are
// callbacks, not code inside the loops. Torch-free.
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/history.h"

namespace imagefit {

struct TrainState;

// What "the best epoch" means, for keeping the model and for early stopping (Keras's `monitor`):
// the lowest val_loss, or the highest val_accuracy (ties: the lower val_loss).
enum class Monitor { ValLoss, ValAccuracy };
std::string to_string(Monitor m);                   // "val_loss", "val_accuracy"
Monitor monitor_from_string(const std::string& s);  // throws Error naming the choices

class Callback {
 public:
  virtual ~Callback() = default;
  // After each epoch, once TrainState knows whether it improved; may set state.stop.
  virtual void on_epoch_end(TrainState& state, const EpochRecord& record) {}
};

struct TrainState {
  History history;
  Monitor monitor = Monitor::ValLoss;
  double best_val_loss = 1e300;     // the best epoch's val_loss
  int best_epoch = 0;               // 1-based index into history; 0: none yet
  bool improved = false;            // the last epoch is the new best
  int epochs_since_best = 0;
  bool stop = false;                // set by a callback (or an interrupt): the current phase ends
  std::string stop_reason;
  int planned_epochs = 0;     // epochs of the whole plan (the probe counts one), for "epoch 3/11"
  int phase_last_epoch = 0;   // the number the running phase's last planned epoch will have
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<Callback>> callbacks;

  // Records the epoch (numbering it), updates the best, runs the callbacks. Returns !stop.
  bool end_epoch(EpochRecord record);
  double elapsed_seconds() const;
  void request_stop(const std::string& reason);
};

// Saves the model whenever the epoch is the best so far (Keras ModelCheckpoint(save_best_only=True,
// monitor=...)).
std::unique_ptr<Callback> best_checkpoint(std::function<void(const TrainState&)> save);
// Keeps MODEL.history.csv and MODEL.curves.png current.
std::unique_ptr<Callback> history_files(std::filesystem::path csv, std::filesystem::path png, std::string title);
// One line an epoch on stderr: "epoch 3/11", the metrics, and in the last phase the time left at
// most (early stopping may end it sooner).
std::unique_ptr<Callback> epoch_printer();
// Ends the phase after `patience` epochs without a better epoch than the best so far (in any phase,
// by the state's monitor), not counting the phase's first `grace` epochs (a warm-up).
std::unique_ptr<Callback> early_stopping(int patience, int grace = 0);
// Ends the phase when another epoch like the last would pass `seconds` since the run started.
std::unique_ptr<Callback> time_budget(double seconds);

}  // namespace imagefit

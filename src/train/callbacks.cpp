#include "train/callbacks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "report/curves.h"

namespace imagefit {

std::string to_string(Monitor m) { return m == Monitor::ValAccuracy ? "val_accuracy" : "val_loss"; }

Monitor monitor_from_string(const std::string& s) {
  if (s == "val_loss") return Monitor::ValLoss;
  if (s == "val_accuracy") return Monitor::ValAccuracy;
  throw Error("--monitor " + s + ": expected val_loss or val_accuracy");
}

bool TrainState::end_epoch(EpochRecord rec) {
  rec.epoch = int(history.size()) + 1;
  history.push_back(rec);
  if (monitor == Monitor::ValAccuracy) {
    const double best_acc = best_epoch > 0 ? history[size_t(best_epoch - 1)].val_accuracy : -1;
    improved = std::isfinite(rec.val_loss) &&
               (rec.val_accuracy > best_acc || (rec.val_accuracy == best_acc && rec.val_loss < best_val_loss));
  } else {
    improved = std::isfinite(rec.val_loss) && rec.val_loss < best_val_loss;
  }
  if (improved) {
    best_val_loss = rec.val_loss;
    best_epoch = rec.epoch;
    epochs_since_best = 0;
  } else {
    ++epochs_since_best;
  }
  for (auto& c : callbacks) c->on_epoch_end(*this, rec);
  return !stop;
}

double TrainState::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void TrainState::request_stop(const std::string& reason) {
  if (!stop) stop_reason = reason;
  stop = true;
}

namespace {

class BestCheckpoint : public Callback {
 public:
  explicit BestCheckpoint(std::function<void(const TrainState&)> save) : save_(std::move(save)) {}
  void on_epoch_end(TrainState& s, const EpochRecord&) override {
    if (s.improved) save_(s);
  }

 private:
  std::function<void(const TrainState&)> save_;
};

class HistoryFiles : public Callback {
 public:
  HistoryFiles(std::filesystem::path csv, std::filesystem::path png, std::string title)
      : csv_(std::move(csv)), png_(std::move(png)), title_(std::move(title)) {}
  void on_epoch_end(TrainState& s, const EpochRecord&) override {
    atomic_write_text(csv_, history_to_csv(s.history));
    // The tutorial's two plots (accuracy and loss per epoch, best epoch marked), kept current.
    try {
      write_curves_png(s.history, title_, png_.string());
    } catch (const Error& e) {
      std::fprintf(stderr, "warning: could not write %s: %s\n", png_.string().c_str(), e.what());
    }
  }

 private:
  std::filesystem::path csv_, png_;
  std::string title_;
};

class EpochPrinter : public Callback {
 public:
  void on_epoch_end(TrainState& s, const EpochRecord& r) override {
    const std::string of = s.planned_epochs >= r.epoch ? "/" + std::to_string(s.planned_epochs) : "";
    std::string left;
    if (s.phase_last_epoch == s.planned_epochs && r.epoch < s.planned_epochs) {
      // The mean of this phase's last (up to 3) epochs, times the epochs left.
      double sum = 0;
      int n = 0;
      for (auto it = s.history.rbegin(); it != s.history.rend() && it->phase == r.phase && n < 3; ++it, ++n) sum += it->seconds;
      left = ", at most " + format_duration(sum / std::max(1, n) * (s.planned_epochs - r.epoch)) + " left";
    }
    std::fprintf(stderr, "epoch %3d%s %-9s loss %.4f acc %.4f | val_loss %.4f val_acc %.4f | %.1fs %.0f img/s%s%s\n",
                 r.epoch, of.c_str(), r.phase.c_str(), r.train_loss, r.train_accuracy, r.val_loss, r.val_accuracy,
                 r.seconds, r.images_per_second, left.c_str(), s.improved ? ("  * saved (best " + to_string(s.monitor) + ")").c_str() : "");
  }
};

class EarlyStopping : public Callback {
 public:
  EarlyStopping(int patience, int grace) : patience_(patience), grace_(grace) {}
  void on_epoch_end(TrainState& s, const EpochRecord& r) override {
    // This phase's epochs so far, from the history (so a resumed run counts the same).
    int phase_epochs = 0;
    for (const auto& h : s.history) phase_epochs += h.phase == r.phase;
    if (patience_ > 0 && std::min(s.epochs_since_best, phase_epochs - grace_) >= patience_)
      s.request_stop("early stopping: " + to_string(s.monitor) + " did not improve on epoch " + std::to_string(s.best_epoch) + " for " +
                     std::to_string(patience_) + " epochs");
  }

 private:
  int patience_, grace_;
};

class TimeBudget : public Callback {
 public:
  explicit TimeBudget(double seconds) : seconds_(seconds) {}
  void on_epoch_end(TrainState& s, const EpochRecord& r) override {
    if (seconds_ > 0 && s.elapsed_seconds() + r.seconds > seconds_)
      s.request_stop("time budget: another epoch (about " + std::to_string(int(std::lround(r.seconds))) +
                     " s) would pass the budget of " + std::to_string(int(std::lround(seconds_))) + " s");
  }

 private:
  double seconds_;
};

}  // namespace

std::unique_ptr<Callback> best_checkpoint(std::function<void(const TrainState&)> save) {
  return std::make_unique<BestCheckpoint>(std::move(save));
}
std::unique_ptr<Callback> history_files(std::filesystem::path csv, std::filesystem::path png, std::string title) {
  return std::make_unique<HistoryFiles>(std::move(csv), std::move(png), std::move(title));
}
std::unique_ptr<Callback> epoch_printer() { return std::make_unique<EpochPrinter>(); }
std::unique_ptr<Callback> early_stopping(int patience, int grace) { return std::make_unique<EarlyStopping>(patience, grace); }
std::unique_ptr<Callback> time_budget(double seconds) { return std::make_unique<TimeBudget>(seconds); }

}  // namespace imagefit

#pragma once
// `imagefit train`: from a dataset folder to a model file. The options and the data become a plan
// (train/plan.h, printed before any work), run as phases (train/phases.h) whose epochs go through
// callbacks (train/callbacks.h) that keep the best epoch by val_loss (Keras
// ModelCheckpoint(save_best_only=True, monitor="val_loss")), the history and the curves.
#include <functional>

#include <nlohmann/json.hpp>

#include "train/options.h"

namespace imagefit {

// Returns the summary (best_epoch, val_loss, val_accuracy, test_loss, test_accuracy, classes, model,
// seconds, plan, ...). `interrupted` is polled between batches: when it returns true, training stops
// after saving what it has (the best model so far and the history).
nlohmann::json train_model(const TrainOptions& options, const std::function<bool()>& interrupted = nullptr);

}  // namespace imagefit

#pragma once
// After training: temperature scaling fitted on the validation split (report/calibration.h) and
// train --tta's decision (train/tta.h), written into the model's metadata["inference"]
// (weights/saved_model.h InferenceSettings) and the run's summary.
#include <nlohmann/json.hpp>
#include <string>

#include <torch/torch.h>

#include "models/precision.h"
#include "train/image_cache.h"
#include "weights/saved_model.h"

namespace imagefit {

struct CalibrateOptions {
  std::string calibrate = "temperature";  // temperature | none
  std::string tta = "off";                // auto (kept if it helps on validation) | on | off
  int batch_size = 64;
  int threads = 1;
  bool progress = true;  // one line on stderr with T and ECE before → after
};

// Sets model.metadata["inference"] and returns the summary's "calibration" object:
// {"method", "temperature", "validation_ece_before", "validation_ece_after", "validation_nll_before",
//  "validation_nll_after", "tta", "tta_decision", ...}. With no validation images, T = 1, TTA off.
// Also sets model.inference from what it wrote.
nlohmann::json calibrate_on_validation(SavedModel& model, const ImageCache& validation, const CalibrateOptions& options,
                                       Precision precision, const torch::Device& device);

// Accuracy and mean NLL of `model` on `images` as evaluate, predict and serve compute them: the views
// of its recorded TTA choice at its recorded temperature (train's test split, so that the numbers
// train prints are evaluate's).
struct InferenceScore {
  double accuracy = 0, loss = 0;
};
InferenceScore score_as_inference(SavedModel& model, const ImageCache& images, int batch_size, int threads,
                                  Precision precision, const torch::Device& device, const std::string& progress_label);

}  // namespace imagefit

#pragma once
// `imagefit evaluate`: a saved model on a folder of class folders (or a dataset's test split).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/metrics.h"
#include "report/calibration.h"

namespace imagefit {

struct Mistake {
  std::string path;
  int truth = 0, predicted = 0;
  float probability = 0;  // of the predicted class
};

// A model's parameters (tensors the optimizer can train; BatchNorm statistics are buffers, not counted),
// split into the backbone and the head, and how many of them its training trained.
struct ParameterCounts {
  int64_t total = 0, backbone = 0, head = 0;
  int backbone_stages = 0;
  int64_t trained = -1;     // -1: unknown (no training summary)
  std::string trained_what;  // "all", "the head", "the head and the last 9 of 27 backbone stages"
};

// How the probabilities were made and how well calibrated they are on the evaluated images
// (report/calibration.h): before = the network's own softmax (T = 1), after = at the model's temperature.
struct CalibrationSummary {
  double temperature = 1.0;  // the one used (the model's, for the views used)
  bool tta = false;          // test-time augmentation was used
  int views = 1;
  double loss_uncalibrated = 0;  // NLL at T = 1 (Metrics::loss is at `temperature`)
  double ece_before = 0, ece_after = 0;
  std::vector<ReliabilityBin> bins_before, bins_after;
  nlohmann::json validation;  // the model's own record of its fit on validation (may be empty)
};
nlohmann::json calibration_to_json(const CalibrationSummary& c);

struct Evaluation {
  std::vector<std::string> classes;
  Metrics metrics;
  std::vector<Mistake> mistakes;  // most confident mistakes first
  std::vector<std::string> skipped;  // unreadable images ("path: reason")
  double seconds = 0;
  nlohmann::json model_metadata;  // the model file's metadata (network, training summary, history)
  std::string evaluated_on;        // the folder of class folders actually used
  std::string precision;           // what inference ran in: fp32 | bf16
  ParameterCounts parameters;
  CalibrationSummary calibration;
};

struct EvaluateOptions {
  std::string model;
  std::string data;  // class folders, or a dataset root (then its test/ split, else validation/)
  int batch_size = 64;
  int threads = 0;
  bool strict = false;
  std::string device = "cpu";
  std::string precision = "auto";  // auto | fp32 | bf16 (models/precision.h)
  bool progress = true;
  std::string tta = "auto";  // auto (the model's choice) | on | off (train/tta.h)
};

Evaluation evaluate_model(const EvaluateOptions& options);

}  // namespace imagefit

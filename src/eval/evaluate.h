#pragma once
// `imagefit evaluate`: a saved model on a folder of class folders (or a dataset's test split).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/metrics.h"

namespace imagefit {

struct Mistake {
  std::string path;
  int truth = 0, predicted = 0;
  float probability = 0;  // of the predicted class
};

struct Evaluation {
  std::vector<std::string> classes;
  Metrics metrics;
  std::vector<Mistake> mistakes;  // most confident mistakes first
  std::vector<std::string> skipped;  // unreadable images ("path: reason")
  double seconds = 0;
  nlohmann::json model_metadata;  // the model file's metadata (network, training summary, history)
  std::string evaluated_on;        // the folder of class folders actually used
  std::string precision;           // what inference ran in: fp32 | bf16
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
};

Evaluation evaluate_model(const EvaluateOptions& options);

}  // namespace imagefit

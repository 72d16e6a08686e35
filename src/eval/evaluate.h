#pragma once
// `imagefit evaluate`: a saved model on a folder of class folders (or a dataset's test split).
#include <cstdint>
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

// A model's parameters (tensors the optimizer can train; BatchNorm statistics are buffers, not counted),
// split into the backbone and the head, and how many of them its training trained.
struct ParameterCounts {
  int64_t total = 0, backbone = 0, head = 0;
  int backbone_stages = 0;
  int64_t trained = -1;     // -1: unknown (no training summary)
  std::string trained_what;  // "all", "the head", "the head and the last 9 of 27 backbone stages"
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
  ParameterCounts parameters;
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

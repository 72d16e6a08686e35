#pragma once
// Classification metrics from true and predicted labels (torch-free). The arithmetic lives in
// report/metrics (one implementation for the terminal, JSON and the HTML report).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/metrics.h"

namespace imagefit {

struct Metrics {
  double accuracy = 0;
  double loss = 0;
  long count = 0;
  std::vector<ClassMetrics> per_class;  // name, precision, recall, f1, support
  ConfusionMatrix confusion;            // [true][predicted]
  double macro_f1 = 0;
};

Metrics compute_metrics(const std::vector<std::string>& classes, const std::vector<int>& truth,
                        const std::vector<int>& predicted, double loss);
nlohmann::json metrics_to_json(const Metrics& m);
// Human-readable tables (per-class metrics and the confusion matrix).
std::string metrics_to_text(const Metrics& m);

}  // namespace imagefit

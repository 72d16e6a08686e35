#pragma once
// Classification metrics from true and predicted labels (torch-free).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace imagefit {

struct ClassMetrics {
  std::string label;
  double precision = 0, recall = 0, f1 = 0;
  long support = 0;  // number of true instances
};

struct Metrics {
  double accuracy = 0;
  double loss = 0;
  long count = 0;
  std::vector<ClassMetrics> per_class;
  std::vector<std::vector<long>> confusion;  // [true][predicted]
  double macro_f1 = 0;
};

Metrics compute_metrics(const std::vector<std::string>& classes, const std::vector<int>& truth,
                        const std::vector<int>& predicted, double loss);
nlohmann::json metrics_to_json(const Metrics& m);
// Human-readable tables (per-class metrics and the confusion matrix).
std::string metrics_to_text(const Metrics& m);

}  // namespace imagefit

#pragma once
// Classification metrics computed from a confusion matrix (per-class precision / recall / F1 /
// support, accuracy, macro and weighted averages, like scikit-learn's classification_report).
#include <cstdint>
#include <string>
#include <vector>

namespace imagefit {

// Counts; rows = true class, columns = predicted class, in the order of the class list.
using ConfusionMatrix = std::vector<std::vector<int64_t>>;

struct ClassMetrics {
  std::string name;
  double precision = 0, recall = 0, f1 = 0;  // 0 when undefined (no predictions / no samples)
  int64_t support = 0;                       // true samples of the class
};

struct ClassificationMetrics {
  std::vector<ClassMetrics> per_class;
  ClassMetrics macro_avg, weighted_avg;  // support = total
  double accuracy = 0;
  int64_t total = 0;
};

// Throws Error if the matrix is not classes.size() × classes.size() or has a negative count.
void check_confusion_matrix(const std::vector<std::string>& classes, const ConfusionMatrix& m);
ClassificationMetrics metrics_from_confusion(const std::vector<std::string>& classes, const ConfusionMatrix& m);

}  // namespace imagefit

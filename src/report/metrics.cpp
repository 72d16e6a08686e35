#include "report/metrics.h"

#include "core/error.h"

namespace imagefit {

void check_confusion_matrix(const std::vector<std::string>& classes, const ConfusionMatrix& m) {
  const size_t n = classes.size();
  if (n == 0) throw Error("confusion matrix: no classes");
  if (m.size() != n)
    throw Error("confusion matrix: " + std::to_string(m.size()) + " rows for " + std::to_string(n) + " classes");
  for (size_t r = 0; r < n; ++r) {
    if (m[r].size() != n)
      throw Error("confusion matrix: row " + std::to_string(r) + " (" + classes[r] + ") has " +
                  std::to_string(m[r].size()) + " columns for " + std::to_string(n) + " classes");
    for (int64_t v : m[r])
      if (v < 0) throw Error("confusion matrix: negative count in row " + std::to_string(r) + " (" + classes[r] + ")");
  }
}

ClassificationMetrics metrics_from_confusion(const std::vector<std::string>& classes, const ConfusionMatrix& m) {
  check_confusion_matrix(classes, m);
  const size_t n = classes.size();
  ClassificationMetrics out;
  int64_t correct = 0;
  for (size_t c = 0; c < n; ++c) {
    int64_t tp = m[c][c], actual = 0, predicted = 0;
    for (size_t k = 0; k < n; ++k) {
      actual += m[c][k];
      predicted += m[k][c];
    }
    ClassMetrics cm;
    cm.name = classes[c];
    cm.support = actual;
    cm.precision = predicted ? double(tp) / predicted : 0.0;
    cm.recall = actual ? double(tp) / actual : 0.0;
    cm.f1 = cm.precision + cm.recall > 0 ? 2 * cm.precision * cm.recall / (cm.precision + cm.recall) : 0.0;
    out.per_class.push_back(cm);
    correct += tp;
    out.total += actual;
  }
  out.accuracy = out.total ? double(correct) / out.total : 0.0;
  out.macro_avg.name = "macro avg";
  out.weighted_avg.name = "weighted avg";
  for (const auto& cm : out.per_class) {
    out.macro_avg.precision += cm.precision / n;
    out.macro_avg.recall += cm.recall / n;
    out.macro_avg.f1 += cm.f1 / n;
    if (out.total) {
      double w = double(cm.support) / out.total;
      out.weighted_avg.precision += cm.precision * w;
      out.weighted_avg.recall += cm.recall * w;
      out.weighted_avg.f1 += cm.f1 * w;
    }
  }
  out.macro_avg.support = out.weighted_avg.support = out.total;
  return out;
}

}  // namespace imagefit

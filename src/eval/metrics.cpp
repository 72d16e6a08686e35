#include "eval/metrics.h"

#include <algorithm>
#include <cstdio>

namespace imagefit {

Metrics compute_metrics(const std::vector<std::string>& classes, const std::vector<int>& truth,
                        const std::vector<int>& predicted, double loss) {
  Metrics m;
  const size_t k = classes.size();
  m.loss = loss;
  m.count = long(truth.size());
  m.confusion.assign(k, std::vector<long>(k, 0));
  long correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    m.confusion[truth[i]][predicted[i]]++;
    correct += truth[i] == predicted[i];
  }
  m.accuracy = truth.empty() ? 0 : double(correct) / double(truth.size());
  for (size_t c = 0; c < k; ++c) {
    long tp = m.confusion[c][c], predicted_c = 0, actual_c = 0;
    for (size_t j = 0; j < k; ++j) {
      predicted_c += m.confusion[j][c];
      actual_c += m.confusion[c][j];
    }
    ClassMetrics cm;
    cm.label = classes[c];
    cm.support = actual_c;
    cm.precision = predicted_c ? double(tp) / predicted_c : 0;
    cm.recall = actual_c ? double(tp) / actual_c : 0;
    cm.f1 = cm.precision + cm.recall > 0 ? 2 * cm.precision * cm.recall / (cm.precision + cm.recall) : 0;
    m.macro_f1 += cm.f1 / double(k);
    m.per_class.push_back(cm);
  }
  return m;
}

nlohmann::json metrics_to_json(const Metrics& m) {
  nlohmann::json per_class = nlohmann::json::array();
  for (const auto& c : m.per_class)
    per_class.push_back({{"label", c.label}, {"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1},
                         {"support", c.support}});
  return {{"accuracy", m.accuracy}, {"loss", m.loss}, {"count", m.count}, {"macro_f1", m.macro_f1},
          {"per_class", per_class}, {"confusion", m.confusion}};
}

std::string metrics_to_text(const Metrics& m) {
  std::string out;
  char buf[256];
  size_t w = 5;
  for (const auto& c : m.per_class) w = std::max(w, c.label.size());
  std::snprintf(buf, sizeof buf, "%-*s  %9s  %6s  %6s  %7s\n", int(w), "class", "precision", "recall", "f1", "support");
  out += buf;
  for (const auto& c : m.per_class) {
    std::snprintf(buf, sizeof buf, "%-*s  %9.3f  %6.3f  %6.3f  %7ld\n", int(w), c.label.c_str(), c.precision, c.recall,
                  c.f1, c.support);
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "\naccuracy %.4f  loss %.4f  macro F1 %.4f  (%ld images)\n", m.accuracy, m.loss,
                m.macro_f1, m.count);
  out += buf;
  out += "\nconfusion matrix (rows: true, columns: predicted)\n";
  size_t cw = 4;
  for (auto& row : m.confusion)
    for (long v : row) cw = std::max(cw, std::to_string(v).size() + 1);
  for (const auto& c : m.per_class) cw = std::max(cw, std::min<size_t>(c.label.size() + 1, 10));
  std::snprintf(buf, sizeof buf, "%-*s", int(w), "");
  out += buf;
  for (const auto& c : m.per_class) {
    std::snprintf(buf, sizeof buf, " %*s", int(cw), c.label.substr(0, 10).c_str());
    out += buf;
  }
  out += "\n";
  for (size_t r = 0; r < m.confusion.size(); ++r) {
    std::snprintf(buf, sizeof buf, "%-*s", int(w), m.per_class[r].label.c_str());
    out += buf;
    for (long v : m.confusion[r]) {
      std::snprintf(buf, sizeof buf, " %*ld", int(cw), v);
      out += buf;
    }
    out += "\n";
  }
  return out;
}

}  // namespace imagefit

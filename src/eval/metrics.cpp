#include "eval/metrics.h"

#include <algorithm>
#include <cstdio>

#include "core/text.h"

namespace imagefit {

Metrics compute_metrics(const std::vector<std::string>& classes, const std::vector<int>& truth,
                        const std::vector<int>& predicted, double loss) {
  const size_t k = classes.size();
  ConfusionMatrix confusion(k, std::vector<int64_t>(k, 0));
  for (size_t i = 0; i < truth.size(); ++i) confusion[size_t(truth[i])][size_t(predicted[i])]++;
  const ClassificationMetrics cm = metrics_from_confusion(classes, confusion);
  Metrics m;
  m.loss = loss;
  m.count = long(truth.size());
  m.confusion = confusion;
  m.accuracy = cm.accuracy;
  m.per_class = cm.per_class;
  m.macro_f1 = cm.macro_avg.f1;
  return m;
}

nlohmann::json metrics_to_json(const Metrics& m) {
  nlohmann::json per_class = nlohmann::json::array();
  for (const auto& c : m.per_class)
    per_class.push_back({{"label", c.name}, {"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1},
                         {"support", c.support}});
  return {{"accuracy", m.accuracy}, {"loss", m.loss}, {"count", m.count}, {"macro_f1", m.macro_f1},
          {"per_class", per_class}, {"confusion", m.confusion}};
}

std::string metrics_to_text(const Metrics& m) {
  std::string out;
  char buf[256];
  size_t w = 5;
  for (const auto& c : m.per_class) w = std::max(w, c.name.size());
  std::snprintf(buf, sizeof buf, "%-*s  %9s  %6s  %6s  %7s\n", int(w), "class", "precision", "recall", "f1", "support");
  out += buf;
  for (const auto& c : m.per_class) {
    std::snprintf(buf, sizeof buf, "%-*s  %9.3f  %6.3f  %6.3f  %7lld\n", int(w), c.name.c_str(), c.precision, c.recall,
                  c.f1, (long long)c.support);
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "\naccuracy %.4f  loss %.4f  macro F1 %.4f  (%s)\n", m.accuracy, m.loss, m.macro_f1,
                plural(m.count, "image").c_str());
  out += buf;
  out += "\nconfusion matrix (rows: true, columns: predicted)\n";
  size_t cw = 4;
  for (auto& row : m.confusion)
    for (int64_t v : row) cw = std::max(cw, std::to_string(v).size() + 1);
  for (const auto& c : m.per_class) cw = std::max(cw, std::min<size_t>(c.name.size() + 1, 10));
  std::snprintf(buf, sizeof buf, "%-*s", int(w), "");
  out += buf;
  for (const auto& c : m.per_class) {
    std::snprintf(buf, sizeof buf, " %*s", int(cw), c.name.substr(0, 10).c_str());
    out += buf;
  }
  out += "\n";
  for (size_t r = 0; r < m.confusion.size(); ++r) {
    std::snprintf(buf, sizeof buf, "%-*s", int(w), m.per_class[r].name.c_str());
    out += buf;
    for (int64_t v : m.confusion[r]) {
      std::snprintf(buf, sizeof buf, " %*lld", int(cw), (long long)v);
      out += buf;
    }
    out += "\n";
  }
  return out;
}

}  // namespace imagefit

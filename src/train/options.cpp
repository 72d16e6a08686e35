#include "train/options.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "core/suggest.h"

namespace imagefit {

std::string to_string(Strategy s) {
  switch (s) {
    case Strategy::Auto: return "auto";
    case Strategy::Scratch: return "scratch";
    case Strategy::FeatureExtract: return "feature-extract";
    case Strategy::FineTune: return "fine-tune";
  }
  return "auto";
}

Strategy strategy_from_string(const std::string& s) {
  if (s == "auto") return Strategy::Auto;
  if (s == "scratch") return Strategy::Scratch;
  if (s == "feature-extract") return Strategy::FeatureExtract;
  if (s == "fine-tune") return Strategy::FineTune;
  throw UsageError("--strategy " + s + ": expected auto, scratch, feature-extract or fine-tune" +
                   did_you_mean(s, {"auto", "scratch", "feature-extract", "fine-tune"}));
}

std::string to_string(OptimizerName o) {
  switch (o) {
    case OptimizerName::Default: return "default";
    case OptimizerName::RMSprop: return "rmsprop";
    case OptimizerName::Adam: return "adam";
    case OptimizerName::AdamW: return "adamw";
    case OptimizerName::SGD: return "sgd";
  }
  return "default";
}

OptimizerName optimizer_from_string(const std::string& s) {
  if (s == "rmsprop") return OptimizerName::RMSprop;
  if (s == "adam") return OptimizerName::Adam;
  if (s == "adamw") return OptimizerName::AdamW;
  if (s == "sgd") return OptimizerName::SGD;
  throw UsageError("--optimizer " + s + ": expected rmsprop, adam, adamw or sgd" +
                   did_you_mean(s, {"rmsprop", "adam", "adamw", "sgd"}));
}

double default_learning_rate(OptimizerName o) { return o == OptimizerName::SGD ? 0.01 : 1e-3; }

int unfreeze_from_string(const std::string& s) {
  if (s == "auto") return kUnfreezeAuto;
  if (s == "all") return kUnfreezeAll;
  char* end = nullptr;
  const long n = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || n < 1 || n > 100000)
    throw UsageError("--unfreeze " + s + ": expected auto, all, or a number of stages (1 or more)");
  return int(n);
}

std::string unfreeze_to_string(int unfreeze) {
  if (unfreeze == kUnfreezeAuto) return "auto";
  if (unfreeze == kUnfreezeAll) return "all";
  return std::to_string(unfreeze);
}

double duration_from_string(const std::string& text) {
  const std::string bad = "--time-budget " + text + ": expected a duration such as 90s, 2m, 1h30m";
  double total = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.')) ++j;
    if (j == i) throw UsageError(bad);
    char* end = nullptr;
    const std::string number = text.substr(i, j - i);
    const double v = std::strtod(number.c_str(), &end);
    if (*end != '\0' || !std::isfinite(v)) throw UsageError(bad);
    double unit = 1;
    if (j < text.size()) {
      const char u = text[j++];
      if (u == 'h') unit = 3600;
      else if (u == 'm') unit = 60;
      else if (u == 's') unit = 1;
      else throw UsageError(bad);
    } else if (any) {
      throw UsageError(bad);  // "1h30": the 30 has no unit
    }
    total += v * unit;
    any = true;
    i = j;
  }
  if (!any || total <= 0) throw UsageError(bad);
  return total;
}

}  // namespace imagefit

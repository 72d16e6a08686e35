#include "train/calibrate.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "models/frozen_features.h"
#include "report/calibration.h"
#include "train/tta.h"

namespace imagefit {

namespace {
double accuracy_of(const std::vector<std::vector<float>>& probs, const std::vector<int>& labels) {
  if (probs.empty()) return 0;
  size_t correct = 0;
  for (size_t i = 0; i < probs.size(); ++i)
    correct += size_t(std::max_element(probs[i].begin(), probs[i].end()) - probs[i].begin()) == size_t(labels[i]);
  return double(correct) / double(probs.size());
}
}  // namespace

nlohmann::json calibrate_on_validation(SavedModel& model, const ImageCache& validation, const CalibrateOptions& opt,
                                       Precision precision, const torch::Device& device) {
  if (opt.calibrate != "temperature" && opt.calibrate != "none")
    throw UsageError("--calibrate " + opt.calibrate + ": expected temperature or none");
  if (opt.tta != "auto" && opt.tta != "on" && opt.tta != "off")
    throw UsageError("--tta " + opt.tta + ": expected auto, on or off");
  const bool fit = opt.calibrate == "temperature";
  nlohmann::json inference = {{"calibration", opt.calibrate}, {"temperature", 1.0}, {"tta", opt.tta == "on"}};
  nlohmann::json summary = {{"method", opt.calibrate}, {"temperature", 1.0}, {"tta", opt.tta == "on"}};
  if (validation.size() == 0) {
    model.metadata["inference"] = inference;
    model.inference = inference_from_metadata(model.metadata);
    return summary;
  }
  // One pass over validation: the plain view for T, all of TTA's views when TTA is to be measured.
  const bool measure_tta = opt.tta != "off";
  FrozenFeatures frozen(model.network, model.spec.image_size, precision);
  std::vector<int> labels;
  const ViewLogits all = cache_view_logits(frozen, validation, model.spec.normalization, views_for(measure_tta),
                                           std::max(1, opt.batch_size), device, opt.threads, labels,
                                           opt.progress ? "calibration" : "");
  const ViewLogits plain = all.view(0);
  const double t = fit ? fit_temperature(plain, labels) : 1.0;
  const auto before = calibrated_probabilities(plain, 1.0), after = calibrated_probabilities(plain, t);
  const double ece_before = expected_calibration_error(before, labels), ece_after = expected_calibration_error(after, labels);
  const double nll_before = temperature_nll(plain, labels, 1.0), nll_after = temperature_nll(plain, labels, t);
  inference["temperature"] = t;
  summary["temperature"] = t;
  nlohmann::json val = {{"images", labels.size()},
                        {"ece_before", ece_before},
                        {"ece_after", ece_after},
                        {"nll_before", nll_before},
                        {"nll_after", nll_after},
                        {"accuracy", accuracy_of(after, labels)}};
  std::string tta_line;
  if (measure_tta) {
    const double tt = fit ? fit_temperature(all, labels) : 1.0;
    const auto tta_probs = calibrated_probabilities(all, tt);
    const double tta_nll = temperature_nll(all, labels, tt), tta_acc = accuracy_of(tta_probs, labels);
    const double acc = accuracy_of(after, labels);
    // auto: kept when validation says it helps: higher accuracy, or the same accuracy and a lower NLL.
    const bool helps = tta_acc > acc || (tta_acc == acc && tta_nll < nll_after);
    const bool use = opt.tta == "on" || helps;
    inference["tta"] = use;
    inference["tta_temperature"] = tt;
    val["tta_nll"] = tta_nll;
    val["tta_accuracy"] = tta_acc;
    val["tta_ece"] = expected_calibration_error(tta_probs, labels);
    char why[256];
    std::snprintf(why, sizeof why, "validation accuracy %.4f -> %.4f, NLL %.4f -> %.4f with TTA", acc, tta_acc, nll_after,
                  tta_nll);
    summary["tta_decision"] = std::string(opt.tta == "on" ? "on (--tta on); " : helps ? "on: " : "off: ") + why;
    inference["tta_decision"] = summary["tta_decision"];
    summary["tta"] = use;
    tta_line = std::string("; test-time augmentation ") + (use ? "on" : "off") + " (" + why + ")";
  }
  inference["validation"] = val;
  summary.update(val);
  model.metadata["inference"] = inference;
  model.inference = inference_from_metadata(model.metadata);
  if (opt.progress) {
    if (fit)
      std::fprintf(stderr, "calibration: temperature %.3f, validation ECE %.2f%% -> %.2f%%, NLL %.4f -> %.4f%s\n", t,
                   100 * ece_before, 100 * ece_after, nll_before, nll_after, tta_line.c_str());
    else
      std::fprintf(stderr, "calibration: none (--calibrate none), validation ECE %.2f%%%s\n", 100 * ece_before,
                   tta_line.c_str());
  }
  return summary;
}

InferenceScore score_as_inference(SavedModel& model, const ImageCache& images, int batch_size, int threads,
                                  Precision precision, const torch::Device& device, const std::string& progress_label) {
  InferenceScore score;
  if (images.size() == 0) return score;
  FrozenFeatures frozen(model.network, model.spec.image_size, precision);
  std::vector<int> labels;
  const bool tta = model.inference.tta;
  const ViewLogits logits = cache_view_logits(frozen, images, model.spec.normalization, views_for(tta),
                                              std::max(1, batch_size), device, threads, labels, progress_label);
  const double t = model.inference.temperature_for(tta);
  score.accuracy = accuracy_of(calibrated_probabilities(logits, t), labels);
  score.loss = temperature_nll(logits, labels, t);
  return score;
}

}  // namespace imagefit

#include "eval/evaluate.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "core/parallel.h"
#include "data/dataset.h"
#include "eval/parameter_counts.h"
#include "models/device.h"
#include "models/precision.h"
#include "train/image_cache.h"
#include "train/tta.h"
#include "weights/saved_model.h"

namespace imagefit {

namespace fs = std::filesystem;

namespace {
// The images to evaluate on, labelled with the model's class indices.
ImageSet images_for(const std::string& dir, const std::vector<std::string>& model_classes, std::string& used) {
  fs::path root(dir);
  ImageSet set;
  used = fs::is_directory(root / "test") ? (root / "test").string() : dir;
  set = scan_class_folders(used, true);
  std::vector<int> to_model(set.classes.size());
  for (size_t c = 0; c < set.classes.size(); ++c) {
    auto it = std::find(model_classes.begin(), model_classes.end(), set.classes[c]);
    if (it == model_classes.end()) {
      std::string known;
      for (auto& m : model_classes) known += " " + m;
      throw Error(dir + ": class folder '" + set.classes[c] + "' is not a class of the model (its classes:" + known + ")");
    }
    to_model[c] = int(it - model_classes.begin());
  }
  for (auto& im : set.images) im.label = to_model[im.label];
  set.classes = model_classes;
  return set;
}
}  // namespace

nlohmann::json calibration_to_json(const CalibrationSummary& c) {
  nlohmann::json j = {{"temperature", c.temperature},       {"tta", c.tta},
                      {"views", c.views},                   {"loss_uncalibrated", c.loss_uncalibrated},
                      {"ece_before", c.ece_before},         {"ece_after", c.ece_after}};
  if (!c.validation.is_null()) j["validation"] = c.validation;
  return j;
}

Evaluation evaluate_model(const EvaluateOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.batch_size < 1) throw UsageError("--batch-size " + std::to_string(opt.batch_size) + ": must be at least 1");
  const int threads = opt.threads > 0 ? opt.threads : hardware_threads();
  torch::set_num_threads(threads);
  const torch::Device device = resolve_device(opt.device);
  SavedModel model = load_model(opt.model);
  Evaluation ev;
  ev.parameters = count_parameters(model.network, model.metadata.value("training", nlohmann::json::object()));
  model.network->to(device);
  ImageSet set = images_for(opt.data, model.spec.classes, ev.evaluated_on);
  ImageCache cache(set, model.spec.image_size, model.spec.resize, threads, opt.strict, size_t(2) << 30, opt.progress);
  const Precision precision = resolve_precision(precision_from_string(opt.precision), device.is_cuda());
  FrozenFeatures frozen(model.network, model.spec.image_size, precision);
  // Logits of every view (one without TTA), then probabilities at the model's temperature.
  auto& cal = ev.calibration;
  cal.tta = tta_wanted(opt.tta, model.inference.tta);
  cal.views = int(views_for(cal.tta).size());
  cal.temperature = model.inference.temperature_for(cal.tta);
  if (model.metadata.contains("inference")) cal.validation = model.metadata["inference"].value("validation", nlohmann::json());
  std::vector<int> labels;
  const ViewLogits logits = cache_view_logits(frozen, cache, model.spec.normalization, views_for(cal.tta), opt.batch_size,
                                              device, threads, labels, opt.progress ? "evaluating" : "");
  std::vector<int> predicted;
  std::vector<std::vector<float>> probabilities;
  if (!labels.empty()) {
    probabilities = calibrated_probabilities(logits, cal.temperature);
    const auto raw = calibrated_probabilities(logits, 1.0);
    for (const auto& p : probabilities) predicted.push_back(int(std::max_element(p.begin(), p.end()) - p.begin()));
    cal.loss_uncalibrated = temperature_nll(logits, labels, 1.0);
    cal.bins_before = reliability_bins(raw, labels);
    cal.bins_after = reliability_bins(probabilities, labels);
    cal.ece_before = expected_calibration_error(cal.bins_before);
    cal.ece_after = expected_calibration_error(cal.bins_after);
  }
  ev.precision = to_string(precision);
  ev.classes = model.spec.classes;
  ev.model_metadata = model.metadata;
  ev.metrics = compute_metrics(ev.classes, labels, predicted, labels.empty() ? 0 : temperature_nll(logits, labels, cal.temperature));
  for (const auto& b : cache.bad_images()) ev.skipped.push_back(b.reason);
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] != predicted[i]) ev.mistakes.push_back({cache.path(i), labels[i], predicted[i], probabilities[i][size_t(predicted[i])]});
  std::stable_sort(ev.mistakes.begin(), ev.mistakes.end(),
                   [](const Mistake& a, const Mistake& b) { return a.probability > b.probability; });
  ev.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ev;
}

}  // namespace imagefit

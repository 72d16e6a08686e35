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
#include "train/scoring.h"
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
  Scores s = score_images(model.network, cache, model.spec.normalization, opt.batch_size, device, threads,
                          opt.progress ? "evaluating" : "", &frozen);
  ev.precision = to_string(precision);
  ev.classes = model.spec.classes;
  ev.model_metadata = model.metadata;
  ev.metrics = compute_metrics(ev.classes, s.labels, s.predicted, s.loss);
  for (const auto& b : cache.bad_images()) ev.skipped.push_back(b.reason);
  for (size_t i = 0; i < s.labels.size(); ++i)
    if (s.labels[i] != s.predicted[i]) ev.mistakes.push_back({cache.path(i), s.labels[i], s.predicted[i], s.probabilities[i][s.predicted[i]]});
  std::stable_sort(ev.mistakes.begin(), ev.mistakes.end(),
                   [](const Mistake& a, const Mistake& b) { return a.probability > b.probability; });
  ev.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ev;
}

}  // namespace imagefit

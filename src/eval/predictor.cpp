#include "eval/predictor.h"

#include <algorithm>
#include <numeric>

#include "augment/augmenter.h"
#include "models/device.h"
#include "models/frozen_features.h"
#include "models/input_tensor.h"
#include "models/precision.h"
#include "report/calibration.h"
#include "train/tta.h"
#include "weights/saved_model.h"

namespace imagefit {

namespace {

class TorchPredictor : public Predictor {
 public:
  TorchPredictor(const std::string& path, const std::string& device, const std::string& precision,
                 const std::string& tta, bool calibrated)
      : model_(load_model(path)),
        device_(resolve_device(device)),
        precision_(resolve_precision(precision_from_string(precision), device_.is_cuda())),
        tta_(tta_wanted(tta, model_.inference.tta)),
        temperature_(calibrated ? model_.inference.temperature_for(tta_) : 1.0) {
    model_.network->to(device_);
    model_.network->eval();
    frozen_ = std::make_unique<FrozenFeatures>(model_.network, model_.spec.image_size, precision_);
  }

  std::vector<std::vector<float>> probabilities(const std::vector<cv::Mat>& rgb) override {
    std::vector<std::vector<float>> out;
    const int size = model_.spec.image_size;
    constexpr size_t kChunk = 32;
    for (size_t first = 0; first < rgb.size(); first += kChunk) {
      std::vector<cv::Mat> chunk;
      for (size_t i = first; i < std::min(rgb.size(), first + kChunk); ++i) chunk.push_back(resize_to_input(rgb[i], size, model_.spec.resize));
      auto batch = images_to_tensor(chunk, model_.spec.normalization);
      ViewLogits logits;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        append_view_logits([&](const torch::Tensor& x) { return frozen_->logits(x); }, batch.to(device_), views_for(tta_),
                           logits);
      }
      for (auto& p : calibrated_probabilities(logits, temperature_)) out.push_back(std::move(p));
    }
    return out;
  }

  std::vector<std::vector<ClassScore>> predict(const std::vector<cv::Mat>& rgb, int top_k) override {
    std::vector<std::vector<ClassScore>> out;
    const auto& classes = model_.spec.classes;
    const size_t k = top_k <= 0 ? classes.size() : std::min<size_t>(size_t(top_k), classes.size());
    for (const auto& probs : probabilities(rgb)) {
      std::vector<int> order(probs.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return probs[a] > probs[b]; });
      std::vector<ClassScore> top;
      for (size_t i = 0; i < k; ++i) top.push_back({order[i], classes[order[i]], probs[order[i]]});
      out.push_back(std::move(top));
    }
    return out;
  }

  const std::vector<std::string>& classes() const override { return model_.spec.classes; }
  int image_size() const override { return model_.spec.image_size; }
  const nlohmann::json& metadata() const override { return model_.metadata; }
  std::string precision() const override { return to_string(precision_); }
  double temperature() const override { return temperature_; }
  bool tta() const override { return tta_; }

 private:
  SavedModel model_;
  torch::Device device_;
  Precision precision_;
  bool tta_;
  double temperature_;
  std::unique_ptr<FrozenFeatures> frozen_;
  std::mutex mutex_;
};

}  // namespace

std::unique_ptr<Predictor> Predictor::open(const std::string& model_path, const std::string& device,
                                           const std::string& precision, const std::string& tta, bool calibrated) {
  return std::make_unique<TorchPredictor>(model_path, device, precision, tta, calibrated);
}

}  // namespace imagefit

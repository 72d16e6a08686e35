#pragma once
// Inference with a saved model: what `predict`, `serve` and `export` use. Torch-free header.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

namespace imagefit {

struct ClassScore {
  int index = 0;
  std::string label;
  float probability = 0;
};

class Predictor {
 public:
  // Loads a model file (Error with the path and the problem if it is not a valid model).
  // device: "cpu", "cuda", "cuda:1", or "auto" (CUDA when available). precision: auto | fp32 | bf16
  // (models/precision.h; auto: bf16 where the hardware computes it natively).
  // tta: auto (what training recorded) | on | off (train/tta.h: the views averaged). calibrated: false
  // ignores the model's temperature (the network's own softmax, T = 1).
  static std::unique_ptr<Predictor> open(const std::string& model_path, const std::string& device = "cpu",
                                         const std::string& precision = "auto", const std::string& tta = "auto",
                                         bool calibrated = true);
  virtual ~Predictor() = default;

  // Decoded RGB 8-bit images of any size (resized as the model was trained). Returns, for each
  // image, the top_k classes by probability (all classes if top_k <= 0), highest first.
  // Thread-safe: concurrent calls are serialized internally.
  virtual std::vector<std::vector<ClassScore>> predict(const std::vector<cv::Mat>& rgb, int top_k) = 0;
  // Full probability vectors (N × classes), same order as classes(): the mean over the TTA views of
  // softmax(logits / temperature()).
  virtual std::vector<std::vector<float>> probabilities(const std::vector<cv::Mat>& rgb) = 0;

  virtual const std::vector<std::string>& classes() const = 0;
  virtual int image_size() const = 0;
  // The model file's metadata (architecture, classes, preprocessing, training summary, metrics).
  virtual const nlohmann::json& metadata() const = 0;
  // The precision inference runs in: "fp32" or "bf16".
  virtual std::string precision() const { return "fp32"; }
  // The temperature the logits are divided by (1: uncalibrated) and whether TTA is on.
  virtual double temperature() const { return 1.0; }
  virtual bool tta() const { return false; }
};

}  // namespace imagefit

#pragma once
// Fine-tuning only the last stages of a backbone: the frozen first stages compute the same output
// for an image every epoch, so they run once per image (and per augmented copy) and their output is
// kept here; an epoch then costs only the stages that train. Stored as bf16 when the run is bf16
// (the next convolution casts to bf16 under autocast anyway, so nothing is lost) or when fp32 would
// not fit the memory bound.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "models/classifier.h"
#include "models/precision.h"
#include "train/batch_loader.h"
#include "train/image_cache.h"

namespace imagefit {

struct ActivationCacheOptions {
  size_t first_trainable_stage = 0;  // the cache holds the output of stages [0, this)
  int copies = 1;                    // training copies (copy 0 and up: augmented when `transform` is set)
  size_t max_bytes = size_t(1536) << 20;
  Precision precision = Precision::FP32;
  int threads = 1;
  uint64_t seed = 0;
  bool progress = true;
};

class ActivationCache {
 public:
  // Bytes one image's activations take at the split, in fp32 (a dry run on one image).
  static size_t bytes_per_image(Classifier& net, int image_size, size_t first_trainable_stage,
                                const torch::Device& device);

  // Runs the frozen stages over `train` (`copies` times, augmented by `transform` with the seeds the
  // uncached loader would use for epochs 0, 1, ...) and once over `val` without augmentation. Fewer
  // copies are kept when they would not fit max_bytes (copies() says how many); throws Error when
  // not even one does (the caller then fine-tunes without the cache).
  ActivationCache(Classifier& net, int image_size, Normalization norm, const ImageCache& train,
                  const ImageCache& val, const SampleTransform& transform, const ActivationCacheOptions& options,
                  const torch::Device& device, const std::function<bool()>& interrupted);

  int copies() const { return int(train_.size()); }
  // Activations of training images `indices` as cached for `epoch` (copy epoch % copies()), float32.
  torch::Tensor train_batch(int epoch, const std::vector<size_t>& indices) const;
  const torch::Tensor& validation() const { return val_; }  // N_val × C × h × w (stored dtype)
  size_t bytes() const;
  torch::ScalarType stored_type() const { return type_; }

 private:
  std::vector<torch::Tensor> train_;  // one N × C × h × w tensor a copy
  torch::Tensor val_;
  torch::ScalarType type_ = torch::kFloat;
};

}  // namespace imagefit

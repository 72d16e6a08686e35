#pragma once
// Fine-tuning only the last stages of a backbone: the frozen first stages compute the same output
// for an image every epoch, so they run once per image (and per augmented copy) and their output is
// kept here; an epoch then costs only the stages that train. Stored as bf16 when the run is bf16
// (the next convolution casts to bf16 under autocast anyway, so nothing is lost) or when fp32 would
// not fit the memory bound.
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "models/classifier.h"
#include "models/precision.h"
#include "train/batch_loader.h"
#include "train/image_cache.h"

namespace imagefit {

struct ActivationCacheOptions {
  size_t first_trainable_stage = 0;  // the cache holds the output of stages [0, this)
  int copies = 1;                    // training copies (augmented when `transform` is set)
  // Copy i is the loader's epoch first_copy + i with seed copy_seed(first_copy + i), so that the cache
  // holds exactly the augmented copies the linear probe ran (train/phases.cpp feature_seed).
  int first_copy = 0;
  std::function<uint64_t(int copy)> copy_seed = [](int) { return uint64_t(0); };
  size_t max_bytes = size_t(1536) << 20;
  Precision precision = Precision::FP32;
  int threads = 1;
  bool progress = true;
};

// How many training copies fit the memory bound, and in which type they are kept.
struct ActivationCacheLayout {
  int copies = 1;
  torch::ScalarType type = torch::kFloat;
};

class ActivationCache {
 public:
  // Bytes one image's activations take at the split, in fp32 (a dry run on one image).
  static size_t bytes_per_image(Classifier& net, int image_size, size_t first_trainable_stage,
                                const torch::Device& device);
  // The copies (at most options.copies) and type that fit options.max_bytes for these image counts;
  // throws Error when not even one copy does.
  static ActivationCacheLayout layout(size_t fp32_bytes_per_image, size_t train_images, size_t val_images,
                                      const ActivationCacheOptions& options);

  // Runs the frozen stages over `train` (`copies` times, augmented by `transform` with the seeds the
  // uncached loader would use for epochs 0, 1, ...) and once over `val` without augmentation. Fewer
  // copies are kept when they would not fit max_bytes (copies() says how many); throws Error when
  // not even one does (the caller then fine-tunes without the cache).
  ActivationCache(Classifier& net, int image_size, Normalization norm, const ImageCache& train,
                  const ImageCache& val, const SampleTransform& transform, const ActivationCacheOptions& options,
                  const torch::Device& device, const std::function<bool()>& interrupted);
  // Activations computed elsewhere (the linear probe keeps them as it computes its features).
  ActivationCache(std::vector<torch::Tensor> train_copies, torch::Tensor validation);

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

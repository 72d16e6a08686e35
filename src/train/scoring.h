#pragma once
// Runs a classifier over cached images (no augmentation, eval mode): probabilities, loss, accuracy.
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/classifier.h"
#include "models/frozen_features.h"
#include "train/image_cache.h"

namespace imagefit {

struct Scores {
  std::vector<std::vector<float>> probabilities;  // N × classes
  std::vector<int> labels;                        // true labels
  std::vector<int> predicted;                     // argmax
  double loss = 0;                                // mean cross-entropy
  double accuracy = 0;
  size_t count() const { return probabilities.size(); }
};

Scores score_images(Classifier& network, const ImageCache& cache, Normalization norm, int batch_size,
                    const torch::Device& device, int threads, const std::string& progress_label = "",
                    FrozenFeatures* frozen = nullptr,  // the network's frozen graph, when it has one
                    int shard_rank = 0, int shard_world = 1);  // only images i with i % world == rank

}  // namespace imagefit

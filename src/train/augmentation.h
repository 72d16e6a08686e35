#pragma once
// Connects an --augment spec (augment/augment_params.h) to the training pipeline.
#include <string>

#include <nlohmann/json.hpp>

#include "train/batch_loader.h"

namespace imagefit {

struct Augmentation {
  SampleTransform transform;  // empty when the spec is "none"
  nlohmann::json json;        // the parameters, recorded in the model file and history
};

Augmentation make_augmentation(const std::string& spec, int image_size);

}  // namespace imagefit

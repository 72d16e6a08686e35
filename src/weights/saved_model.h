#pragma once
// A trained classifier and its description: how it is built from the registry and saved to /
// loaded from an imagefit model file.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/classifier.h"
#include "models/registry.h"

namespace imagefit {

// Everything needed to rebuild the network before loading its weights.
struct NetworkSpec {
  std::string arch = "simple-cnn";
  BackboneOptions backbone;
  HeadOptions head;
  int image_size = 180;
  Normalization normalization = Normalization::Unit;
  ResizeMode resize = ResizeMode::Squash;
  std::vector<std::string> classes;
};

nlohmann::json spec_to_json(const NetworkSpec& spec);
NetworkSpec spec_from_json(const nlohmann::json& j, const std::string& source);

// Builds the backbone from the registry and a head sized for it (in_features computed by a dry run
// for "flatten" pooling).
Classifier build_network(NetworkSpec& spec);

// How probabilities are computed at inference, fitted on validation after training (train/calibrate.h),
// under metadata["inference"]: softmax(logits / temperature), and whether test-time augmentation
// (train/tta.h) is the default. A model file without it (older imagefit, or --calibrate none with
// --tta off) means T = 1 and no TTA.
struct InferenceSettings {
  double temperature = 1.0;
  bool tta = false;
  double tta_temperature = 0;  // fitted on the TTA views' averaged probabilities; 0: none fitted (then temperature)
  double temperature_for(bool with_tta) const { return with_tta && tta_temperature > 0 ? tta_temperature : temperature; }
};
// Reads metadata["inference"] (checked by load_model_file: temperatures within kMin/kMaxModelTemperature).
InferenceSettings inference_from_metadata(const nlohmann::json& metadata);

struct SavedModel {
  NetworkSpec spec;
  InferenceSettings inference;
  nlohmann::json metadata;  // whole metadata (spec under "network", plus training summary etc.)
  Classifier network{nullptr};
};

// Writes metadata (with spec under "network") and the network's weights atomically.
void save_model(const std::string& path, const NetworkSpec& spec, nlohmann::json metadata, Classifier& network);
SavedModel load_model(const std::string& path);

}  // namespace imagefit

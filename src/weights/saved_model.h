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

struct SavedModel {
  NetworkSpec spec;
  nlohmann::json metadata;  // whole metadata (spec under "network", plus training summary etc.)
  Classifier network{nullptr};
};

// Writes metadata (with spec under "network") and the network's weights atomically.
void save_model(const std::string& path, const NetworkSpec& spec, nlohmann::json metadata, Classifier& network);
SavedModel load_model(const std::string& path);

}  // namespace imagefit

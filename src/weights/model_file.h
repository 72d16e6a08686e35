#pragma once
// The imagefit model file: one self-describing file holding the architecture and its options,
// class names, preprocessing, image size, training summary (JSON metadata) and the weights.
//
// Layout (little-endian):
//   "IMAGEFIT" u32 format_version u32 0 | u64 n | n bytes of JSON metadata
//   | tensor data (offsets and shapes listed in metadata["tensors"])
//   | u64 FNV-1a hash of everything before it | "IFITEND\n"
// Written atomically (temporary file + rename). A truncated, corrupt, foreign or forged file is an
// Error naming it: the tensor index is bounds-checked against the file before anything is
// allocated, and the network description ("network") is checked on load.
#include <string>

#include <nlohmann/json.hpp>

#include "weights/state_dict.h"

namespace imagefit {

constexpr int kModelFormatVersion = 1;

// What a model file's network description may say (checked on load; a value outside is an error
// naming the file, so that a forged file cannot make the loader allocate gigabytes).
constexpr int kMinModelImageSize = 16;
constexpr int kMaxModelImageSize = 2048;
constexpr double kMaxModelAlpha = 4.0;
constexpr size_t kMaxModelClasses = 100000;
constexpr int64_t kMaxModelHidden = 65536;
// metadata["inference"]'s temperatures (weights/saved_model.h): the fit keeps within [0.01, 100].
constexpr double kMinModelTemperature = 1e-3, kMaxModelTemperature = 1e3;

struct ModelFile {
  nlohmann::json metadata;  // without the "tensors" index
  StateDict weights;
};

void save_model_file(const std::string& path, const nlohmann::json& metadata, const StateDict& weights);
ModelFile load_model_file(const std::string& path);
// load_model_file on the file's bytes; `path` names it in messages (the fuzz target's entry point).
ModelFile parse_model_file(const std::string& bytes, const std::string& path);
// Metadata only (does not read the tensors, but still checks the file is whole).
nlohmann::json read_model_metadata(const std::string& path);

}  // namespace imagefit

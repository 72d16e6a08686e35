#pragma once
// The imagefit model file: one self-describing file holding the architecture and its options,
// class names, preprocessing, image size, training summary (JSON metadata) and the weights.
//
// Layout (little-endian):
//   "IMAGEFIT" u32 format_version u32 0 | u64 n | n bytes of JSON metadata
//   | tensor data (offsets and shapes listed in metadata["tensors"])
//   | u64 FNV-1a hash of everything before it | "IFITEND\n"
// Written atomically (temporary file + rename). A truncated, corrupt or foreign file is an Error.
#include <string>

#include <nlohmann/json.hpp>

#include "weights/state_dict.h"

namespace imagefit {

constexpr int kModelFormatVersion = 1;

struct ModelFile {
  nlohmann::json metadata;  // without the "tensors" index
  StateDict weights;
};

void save_model_file(const std::string& path, const nlohmann::json& metadata, const StateDict& weights);
ModelFile load_model_file(const std::string& path);
// Metadata only (does not read the tensors, but still checks the file is whole).
nlohmann::json read_model_metadata(const std::string& path);

}  // namespace imagefit

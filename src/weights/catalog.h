#pragma once
// The ImageNet-pretrained weights files imagefit knows how to get: where each comes from, how to
// check it, and where it lives once downloaded (the weights cache). No LibTorch here.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace imagefit {

struct WeightsEntry {
  std::string name;         // "keras-mobilenet-v2-0.35", "resnet18": what users type
  std::string arch;         // registry name (models/registry.h): "keras-mobilenet-v2", "resnet18"
  double alpha = 1.0;       // width multiplier the file was trained with
  std::string url;          // where it is published
  std::string file_name;    // its published file name, kept in the cache as is
  std::string sha256;       // lower-case hex, full (64) or a prefix; "" when none is published
  std::string sha256_source;  // where the hash comes from, for `weights list`
  std::string md5;            // Keras's published file_hash where it is an md5 (32 hex digits), else "";
                              // checked by verify_cached_weights (a download checks the sha256 only)
  std::int64_t size_bytes = 0;  // 0 when unknown
  bool size_exact = false;      // false: size_bytes is the publisher's rounded figure
  double imagenet_top1 = 0;     // published ImageNet top-1 accuracy (%), 0 when unknown
  int preference = 1000;        // rank for best_cached_backbone (lower is better; unique)
  std::string description;
};

// Every known entry, built-in ones first, then those added with register_weights_entry.
std::vector<WeightsEntry> weights_catalog();
// Throws Error listing the known names.
WeightsEntry find_weights_entry(const std::string& name);
// Adds an entry (or replaces the one with the same name): mirrors of private files, and tests.
void register_weights_entry(const WeightsEntry& entry);

// The folder downloads go to: $IMAGEFIT_CACHE if set, else $XDG_CACHE_HOME/imagefit/weights,
// else ~/.cache/imagefit/weights.
std::filesystem::path weights_cache_dir();

// Where a copy of the entry's file already is: the imagefit cache, then the caches of the tools users
// come from (Keras: $KERAS_HOME/models or ~/.keras/models; torchvision: $TORCH_HOME/hub/checkpoints or
// ~/.cache/torch/hub/checkpoints). Cheap: checks presence and, when the size is exactly known, the
// size; the hash is checked when the file is downloaded (verify_cached_weights checks it again).
std::optional<std::filesystem::path> find_cached(const WeightsEntry& entry);
std::optional<std::filesystem::path> find_cached(const std::string& name);

// Hashes the file and compares with the entry's published hashes: sha256 and, where Keras publishes
// one, md5 (true when none is published).
bool verify_cached_weights(const WeightsEntry& entry, const std::filesystem::path& path,
                           std::string* actual_sha256 = nullptr);

struct CachedWeights {
  WeightsEntry entry;
  std::filesystem::path path;
  bool embedded = false;  // the backbone shipped with imagefit (embedded_backbone)
};
// The best pretrained backbone present locally, by the fixed `preference` order (ImageNet accuracy
// for the compute, so a CPU can still train it), else the embedded one; nullopt when none is.
std::optional<CachedWeights> best_cached_backbone();

// The backbone shipped with imagefit (Keras MobileNet V1 alpha 0.25, 2 MiB, keras-mobilenet-v1-0.25),
// so that transfer learning works on a machine where nothing was downloaded. Installed beside the
// binary: <prefix>/share/imagefit/ for an installed <prefix>/bin/imagefit, share/imagefit/ in the
// build tree; $IMAGEFIT_DATA_DIR, when set, is the only folder looked in.
std::optional<CachedWeights> embedded_backbone();
// The folders embedded_backbone looks in, in order.
std::vector<std::filesystem::path> data_dirs();

// True when `actual` (a full sha256) starts with `expected` (full or prefix, any case).
bool sha256_matches(const std::string& actual, const std::string& expected);

// "44.7 MiB", "2.0 MiB", "812 KiB", "95 B".
std::string format_bytes(std::int64_t bytes);

}  // namespace imagefit

#pragma once
// `--config FILE` (the Ultralytics/timm habit): any command's options in a file, TOML/INI
// (`epochs = 20`), JSON (`{"epochs": 20}`) or flat YAML (`epochs: 20`). The file becomes command-line
// arguments placed before the ones typed, so typed options win. Keys are option names without dashes
// ("lr", "batch-size" or "batch_size"); `data` (or another positional's name) gives a positional.
#include <string>
#include <vector>

namespace imagefit::cli {

// The arguments a config file stands for. Throws UsageError naming the file and the line or key.
std::vector<std::string> config_file_arguments(const std::string& path);

// argv with every "--config FILE" (or --config=FILE) after a command replaced by that file's arguments.
// `positional_names` maps a key such as "data" to a positional (its value is placed as a bare argument).
std::vector<std::string> expand_config_files(const std::vector<std::string>& args);

}  // namespace imagefit::cli

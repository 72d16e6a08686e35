#pragma once
// The options several commands share, each declared once here with its check and help (in the spirit
// of llama.cpp's common/arg.cpp): a command lists the ones it takes. Values are checked while the
// command line is parsed, so a bad value is an error naming the option and its range before any work,
// never a silent default. Also the validators the commands' own options use.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "models/precision.h"

namespace imagefit::cli {

struct CommonOptions {
  int threads = 0;                 // 0: all cores
  std::string device = "cpu";      // cpu | cuda | cuda:N | auto
  Precision precision = Precision::Auto;
  int batch_size = 32;
  uint64_t seed = 0;
  int image_size = 0;              // 0: the command's default (the model's, the backbone's)
  std::string resize = "squash";   // squash | crop | center-crop
  bool json = false;
  bool quiet = false;
  bool force = false;
  std::string calibrate = "temperature";  // train: temperature | none (train/calibrate.h)
  std::string tta = "auto";        // evaluate/predict/serve: auto (the model's choice) | on | off; train sets its own default
  bool uncalibrated = false;       // predict/serve --no-calibration: T = 1
  std::string config;              // only for --help: main expands --config FILE before parsing (cli/config_file.h)
};

enum class Common { Threads, Device, Precision, BatchSize, Seed, ImageSize, Resize, Json, Quiet, Force, Config, Calibrate, Tta,
                    NoCalibration };

// What differs between commands: the words of some helps.
struct CommonHelp {
  std::string json = "Print the results as JSON";
  std::string force = "Replace the output if it exists";
  std::string image_size = "Input size in pixels";
  std::string batch_size = "Images per batch";
  std::string threads = "Threads (default: all cores)";
  std::string tta = "Test-time augmentation: auto (what the model records: train --tta) | on | off";
};

void add_common_options(CLI::App* cmd, CommonOptions& o, const std::vector<Common>& which, const CommonHelp& help = {});

// Sets LibTorch's intra-op threads: all cores unless the user said otherwise.
void apply_threads(int threads);
int max_threads();  // the largest --threads accepted (4 × cores, at least 64)

// Validators with messages a user can act on ("0 is not between 1 and 4096"). Reals reject nan/inf.
CLI::Validator int_range(long long lo, long long hi);
CLI::Validator real_range(double lo, double hi, bool lo_open = false, bool hi_open = false);
CLI::Validator positive_real();  // > 0 and finite
CLI::Validator one_of(const std::vector<std::string>& choices);  // with "did you mean"
CLI::Validator existing_file();
CLI::Validator existing_dir();

}  // namespace imagefit::cli

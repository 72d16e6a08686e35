#include "cli/options.h"

#include <cmath>
#include <filesystem>
#include <regex>

#include <torch/torch.h>

#include "core/parallel.h"
#include "core/suggest.h"
#include "train/tta.h"

namespace imagefit::cli {

namespace fs = std::filesystem;

namespace {
std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

int max_threads() { return std::max(64, 4 * hardware_threads()); }

void apply_threads(int threads) { torch::set_num_threads(threads > 0 ? threads : hardware_threads()); }

CLI::Validator int_range(long long lo, long long hi) {
  return CLI::Validator(
      [lo, hi](std::string& value) -> std::string {
        size_t used = 0;
        long long v = 0;
        try {
          v = std::stoll(value, &used);
        } catch (const std::exception&) {
          return value + " is not a whole number";
        }
        if (used != value.size()) return value + " is not a whole number";
        if (v < lo || v > hi) return value + " is not between " + std::to_string(lo) + " and " + std::to_string(hi);
        return "";
      },
      "[" + std::to_string(lo) + "-" + std::to_string(hi) + "]");
}

CLI::Validator real_range(double lo, double hi, bool lo_open, bool hi_open) {
  const std::string range = std::string(lo_open ? "(" : "[") + number_text(lo) + ", " + number_text(hi) + (hi_open ? ")" : "]");
  return CLI::Validator(
      [=](std::string& value) -> std::string {
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(value, &used);
        } catch (const std::exception&) {
          return value + " is not a number";
        }
        if (used != value.size() || !std::isfinite(v)) return value + " is not a finite number";
        if (v < lo || v > hi || (lo_open && v == lo) || (hi_open && v == hi)) return value + " is not in " + range;
        return "";
      },
      range);
}

CLI::Validator positive_real() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(value, &used);
        } catch (const std::exception&) {
          return value + " is not a number";
        }
        if (used != value.size() || !std::isfinite(v)) return value + " is not a finite number";
        if (v <= 0) return value + " must be greater than 0";
        return "";
      },
      "> 0");
}

CLI::Validator one_of(const std::vector<std::string>& choices) {
  return CLI::Validator(
      [choices](std::string& value) -> std::string {
        for (const auto& c : choices)
          if (c == value) return "";
        return "'" + value + "' is not one of " + join_choices(choices) + did_you_mean(value, choices);
      },
      join_choices(choices, "|"));
}

CLI::Validator existing_file() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        std::error_code ec;
        if (!fs::exists(value, ec)) return value + ": no such file";
        if (fs::is_directory(value, ec)) return value + ": is a folder, expected a file";
        return "";
      },
      "FILE");
}

CLI::Validator existing_dir() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        std::error_code ec;
        if (!fs::exists(value, ec)) return value + ": no such folder";
        if (!fs::is_directory(value, ec)) return value + ": is a file, expected a folder";
        return "";
      },
      "DIR");
}

void add_common_options(CLI::App* cmd, CommonOptions& o, const std::vector<Common>& which, const CommonHelp& help) {
  for (Common c : which) {
    switch (c) {
      case Common::Threads:
        cmd->add_option("--threads", o.threads, help.threads)->check(int_range(1, max_threads()));
        break;
      case Common::Device:
        cmd->add_option("--device", o.device, "cpu | cuda | cuda:N | auto")
            ->check(CLI::Validator(
                [](std::string& v) -> std::string {
                  static const std::regex ok("cpu|auto|cuda(:[0-9]{1,3})?");
                  if (std::regex_match(v, ok)) return "";
                  return "'" + v + "' is not a device (cpu, cuda, cuda:N, auto)" +
                         did_you_mean(v, {"cpu", "cuda", "auto"});
                },
                "DEVICE"))
            ->capture_default_str();
        break;
      case Common::Precision:
        cmd->add_option_function<std::string>(
               "--precision", [&o](const std::string& v) { o.precision = precision_from_string(v); },
               "auto (bf16 mixed precision where the CPU computes bf16 natively, or on CUDA; else fp32) | fp32 | bf16")
            ->check(one_of({"auto", "fp32", "bf16"}))
            ->default_str("auto");
        break;
      case Common::BatchSize:
        cmd->add_option("--batch-size", o.batch_size, help.batch_size)->check(int_range(1, 4096))->capture_default_str();
        break;
      case Common::Seed:
        cmd->add_option("--seed", o.seed, "Random seed (the same seed, data and threads give the same result)")
            ->capture_default_str();
        break;
      case Common::ImageSize:
        // 32: the smallest input every architecture here downsamples without vanishing; 1024: far past
        // what these networks were trained at, and 4000 already needs ~9 GB for one batch.
        cmd->add_option("--image-size", o.image_size, help.image_size)->check(int_range(16, 1024));
        break;
      case Common::Resize:
        cmd->add_option("--resize", o.resize,
                        "How images become size x size: squash (whole image, as Keras flow_from_directory) | crop "
                        "(largest centered square) | center-crop (torchvision: shorter side to size/0.875, central crop)")
            ->check(one_of({"squash", "crop", "center-crop"}))
            ->capture_default_str();
        break;
      case Common::Json:
        cmd->add_flag("--json", o.json, help.json);
        break;
      case Common::Quiet:
        cmd->add_flag("-q,--quiet", o.quiet, "No progress output");
        break;
      case Common::Force:
        cmd->add_flag("--force", o.force, help.force);
        break;
      case Common::Calibrate:
        cmd->add_option("--calibrate", o.calibrate,
                        "After training, fit a temperature T on the validation split (Guo et al. 2017: softmax(logits / "
                        "T) minimising validation NLL), stored in the model and used wherever probabilities are shown | "
                        "none (T = 1)")
            ->check(one_of({"temperature", "none"}))
            ->capture_default_str();
        break;
      case Common::Tta:
        cmd->add_option("--tta", o.tta, help.tta + "; " + tta_help())
            ->check(one_of({"auto", "on", "off"}))
            ->capture_default_str();
        break;
      case Common::NoCalibration:
        cmd->add_flag("--no-calibration", o.uncalibrated,
                      "Show the network's own softmax probabilities (T = 1) instead of those at the temperature "
                      "fitted on validation (imagefit info shows it)");
        break;
      case Common::Config:
        cmd->add_option("--config", o.config,
                        "Read options from a file: TOML (epochs = 20), JSON or flat YAML (epochs: 20); options typed "
                        "on the command line win");
        break;
    }
  }
}

}  // namespace imagefit::cli

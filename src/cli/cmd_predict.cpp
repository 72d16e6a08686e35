// imagefit predict MODEL PATH...
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/error.h"
#include "core/text.h"
#include "data/dataset.h"
#include "data/image_io.h"
#include "eval/predictor.h"

namespace imagefit::cli {

namespace fs = std::filesystem;

namespace {
// Files as given, folders searched recursively for images (sorted). A link loop or an unreadable
// entry inside a folder is a warning and skipped (find_image_files), not the end of the run.
std::vector<std::string> expand_paths(const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      const std::vector<std::string> found = find_image_files(in);
      out.insert(out.end(), found.begin(), found.end());
    } else {
      out.push_back(in);
    }
  }
  return out;
}

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// The reason alone: read_image_rgb's messages start with the path, which the row already has.
std::string reason(const std::string& path, const std::string& message) {
  const std::string prefix = path + ": ";
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

// One JSON line; a file name that is not valid UTF-8 is written with U+FFFD, not an exception.
std::string json_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The plain table: a header, then one aligned row an image (path, label, probability, then the
// other top-k as "label probability"). Column widths come from the file list and the model's
// classes, known before the first prediction, so rows print as they are computed. Names are
// printable(): a file name with an escape sequence cannot drive the terminal.
class PlainTable {
 public:
  static constexpr size_t kMaxPathWidth = 72;  // a longer path overflows its own row only
  static constexpr size_t kProbWidth = 11;     // "probability"
  static constexpr size_t kOtherProbWidth = 6; // "100.0%"

  PlainTable(const std::vector<std::string>& files, const std::vector<std::string>& classes, size_t columns)
      : columns_(columns) {
    path_width_ = display_width("path");
    for (const auto& f : files) path_width_ = std::max(path_width_, std::min(kMaxPathWidth, display_width(printable(f))));
    for (const auto& c : classes) class_width_ = std::max(class_width_, display_width(printable(c)));
    label_width_ = std::max(display_width("label"), class_width_);
    other_width_ = std::max(display_width("top " + std::to_string(columns)), class_width_ + 1 + kOtherProbWidth);
  }

  std::string header() const {
    std::string h = pad_right("path", path_width_) + "  " + pad_right("label", label_width_) + "  " +
                    pad_left("probability", kProbWidth);
    for (size_t k = 2; k <= columns_; ++k)
      h += "  " + pad_right("top " + std::to_string(k), other_width_);
    return trim(h);
  }

  std::string row(const std::string& path, const std::vector<ClassScore>& top) const {
    std::string r = pad_right(printable(path), path_width_) + "  " + pad_right(printable(top[0].label), label_width_) +
                    "  " + pad_left(percent(top[0].probability), kProbWidth);
    for (size_t k = 1; k < top.size(); ++k)
      r += "  " + pad_right(pad_right(printable(top[k].label), class_width_) + " " + pad_left(percent(top[k].probability), kOtherProbWidth),
                            other_width_);
    return trim(r);
  }

  std::string error_row(const std::string& path, const std::string& why) const {
    return pad_right(printable(path), path_width_) + "  error: " + printable(why);
  }

 private:
  static std::string trim(std::string s) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
  }
  size_t columns_, path_width_, class_width_ = 0, label_width_, other_width_;
};
}  // namespace

void add_predict_command(CLI::App& app) {
  struct Opts {
    std::string model;
    std::vector<std::string> paths;
    int top_k = 3;
    bool csv = false;
    CommonOptions common;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("predict", "Classify image files and folders (recursively) with a model.");
  cmd->footer("Examples:\n  imagefit predict model.imagefit photo.jpg\n  imagefit predict model.imagefit photos/ --json --top-k 5\n"
              "Exit code 1 if any file could not be read (the others are still predicted).");
  cmd->add_option("model", o->model, "Model file")->required()->check(existing_file());
  cmd->add_option("paths", o->paths, "Image files or folders")->required();
  cmd->add_option("-k,--top-k", o->top_k, "Classes to show per image (more than the model has: all)")
      ->capture_default_str()
      ->check(int_range(1, 100000));
  CommonHelp help;
  help.json = "One JSON object a line: path, label, probability, top";
  help.batch_size = "Images per forward pass";
  add_common_options(cmd, o->common,
                     {Common::BatchSize, Common::Threads, Common::Device, Common::Precision, Common::Json, Common::Config,
                      Common::Tta, Common::NoCalibration},
                     help);
  cmd->add_flag("--csv", o->csv, "CSV: path,label,probability,label_2,probability_2,... (--top-k of them),error")
      ->excludes("--json");
  cmd->callback([o] {
    apply_threads(o->common.threads);
    auto predictor = Predictor::open(o->model, o->common.device, to_string(o->common.precision), o->common.tta,
                                     !o->common.uncalibrated);
    const auto files = expand_paths(o->paths);
    if (files.empty()) throw Error("no image files found in the given paths");
    // Columns: the top-k, or every class when the model has fewer.
    const size_t columns = std::min(size_t(o->top_k), predictor->classes().size());
    const PlainTable table(files, predictor->classes(), columns);
    if (o->csv) {
      std::string header = "path,label,probability";
      for (size_t k = 2; k <= columns; ++k) header += ",label_" + std::to_string(k) + ",probability_" + std::to_string(k);
      std::printf("%s,error\n", header.c_str());
    } else if (!o->common.json) {
      std::printf("%s\n", table.header().c_str());
    }
    int failures = 0;
    for (size_t first = 0; first < files.size(); first += size_t(o->common.batch_size)) {
      const size_t last = std::min(files.size(), first + size_t(o->common.batch_size));
      std::vector<cv::Mat> images;
      std::vector<std::string> errors(last - first);
      std::vector<size_t> ok;
      for (size_t i = first; i < last; ++i) {
        try {
          images.push_back(read_image_rgb(files[i]));
          ok.push_back(i);
        } catch (const Error& e) {
          errors[i - first] = reason(files[i], e.what());
        }
      }
      auto results = images.empty() ? std::vector<std::vector<ClassScore>>{} : predictor->predict(images, o->top_k);
      size_t r = 0;
      for (size_t i = first; i < last; ++i) {
        const std::string& err = errors[i - first];
        if (!err.empty()) {
          ++failures;
          if (o->common.json) std::cout << json_line({{"path", files[i]}, {"error", err}}) << "\n";
          else if (o->csv) std::cout << csv_quote(files[i]) << std::string(2 * columns + 1, ',') << csv_quote(err) << "\n";
          else std::cout << table.error_row(files[i], err) << "\n";
          continue;
        }
        const auto& top = results[r++];
        if (o->common.json) {
          nlohmann::json t = nlohmann::json::array();
          for (const auto& s : top) t.push_back({{"label", s.label}, {"probability", s.probability}});
          std::cout << json_line({{"path", files[i]}, {"label", top[0].label}, {"probability", top[0].probability}, {"top", t}})
                    << "\n";
        } else if (o->csv) {
          std::string line = csv_quote(files[i]);
          for (size_t k = 0; k < columns; ++k) {
            char p[32] = "";
            if (k < top.size()) std::snprintf(p, sizeof p, "%.6f", top[k].probability);
            line += "," + (k < top.size() ? csv_quote(top[k].label) : std::string()) + "," + p;
          }
          std::cout << line << ",\n";
        } else {
          std::cout << table.row(files[i], top) << "\n";
        }
      }
      std::cout.flush();
    }
    if (failures > 0) {
      std::fprintf(stderr, "imagefit: %s of %s could not be read\n", with_commas(failures).c_str(),
                   plural(static_cast<long long>(files.size()), "file").c_str());
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace imagefit::cli

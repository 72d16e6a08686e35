// imagefit predict MODEL PATH...
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/error.h"
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
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}
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
  add_common_options(cmd, o->common, {Common::BatchSize, Common::Threads, Common::Device, Common::Precision, Common::Json, Common::Config},
                     help);
  cmd->add_flag("--csv", o->csv, "CSV: path,label,probability,error")->excludes("--json");
  cmd->callback([o] {
    apply_threads(o->common.threads);
    auto predictor = Predictor::open(o->model, o->common.device, to_string(o->common.precision));
    const auto files = expand_paths(o->paths);
    if (files.empty()) throw Error("no image files found in the given paths");
    if (o->csv) std::printf("path,label,probability,error\n");
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
          errors[i - first] = e.what();
        }
      }
      auto results = images.empty() ? std::vector<std::vector<ClassScore>>{} : predictor->predict(images, o->top_k);
      size_t r = 0;
      for (size_t i = first; i < last; ++i) {
        const std::string& err = errors[i - first];
        if (!err.empty()) {
          ++failures;
          if (o->common.json) std::cout << nlohmann::json{{"path", files[i]}, {"error", err}}.dump() << "\n";
          else if (o->csv) std::cout << csv_quote(files[i]) << ",,," << csv_quote(err) << "\n";
          else std::cout << files[i] << ": error: " << err << "\n";
          continue;
        }
        const auto& top = results[r++];
        if (o->common.json) {
          nlohmann::json t = nlohmann::json::array();
          for (const auto& s : top) t.push_back({{"label", s.label}, {"probability", s.probability}});
          std::cout << nlohmann::json{{"path", files[i]}, {"label", top[0].label}, {"probability", top[0].probability}, {"top", t}}.dump()
                    << "\n";
        } else if (o->csv) {
          std::printf("%s,%s,%.6f,\n", csv_quote(files[i]).c_str(), csv_quote(top[0].label).c_str(), top[0].probability);
        } else {
          std::printf("%s: %s %.3f", files[i].c_str(), top[0].label.c_str(), top[0].probability);
          for (size_t k = 1; k < top.size(); ++k) std::printf("  (%s %.3f)", top[k].label.c_str(), top[k].probability);
          std::printf("\n");
        }
      }
      std::cout.flush();
    }
    if (failures > 0) {
      std::fprintf(stderr, "imagefit: %d of %zu files could not be read\n", failures, files.size());
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace imagefit::cli

// imagefit info MODEL
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/error.h"
#include "core/text.h"
#include "eval/evaluation_report.h"
#include "eval/parameter_counts.h"
#include "weights/model_file.h"
#include "weights/saved_model.h"

namespace imagefit::cli {

namespace {

// "label:" padded to the value column; a value of several lines continues under its first.
void print_item(const std::string& label, const std::string& value, size_t indent, size_t width) {
  std::string out = std::string(indent, ' ') + pad_right(label, width);
  for (char c : value) {
    out += c;
    if (c == '\n') out += std::string(indent + width, ' ');
  }
  std::printf("%s\n", out.c_str());
}

// printable() line by line: the value's own line breaks are kept, nothing else.
std::string printable_lines(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    out += printable(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    out += '\n';
    start = end + 1;
  }
}

std::string number(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// "temperature 1.52 (fitted on validation: ECE 8.10% -> 2.30%, NLL 0.41 -> 0.35)".
std::string calibration_text(const nlohmann::json& meta, const InferenceSettings& inf) {
  if (!meta.contains("inference")) return "none: T = 1 (the model predates calibration)";
  const auto& j = meta["inference"];
  std::string out = j.value("calibration", "temperature") == "none" ? "none (--calibrate none): T = 1"
                                                                     : "temperature " + number("%.4g", inf.temperature);
  if (j.contains("validation") && j["validation"].is_object()) {
    const auto& v = j["validation"];
    if (v.value("ece_before", -1.0) >= 0)
      out += " (validation ECE " + number("%.2f%%", 100 * v.value("ece_before", 0.0)) + " -> " +
             number("%.2f%%", 100 * v.value("ece_after", 0.0)) + ", NLL " + number("%.4f", v.value("nll_before", 0.0)) +
             " -> " + number("%.4f", v.value("nll_after", 0.0)) + ")";
  }
  return out;
}

std::string tta_text(const nlohmann::json& meta, const InferenceSettings& inf) {
  std::string out = inf.tta ? "on by default (evaluate, predict, serve; --tta off overrides)" : "off by default (--tta on uses it)";
  if (inf.tta_temperature > 0) out += ", its temperature " + number("%.4g", inf.tta_temperature);
  if (meta.contains("inference") && meta["inference"].contains("tta_decision") && meta["inference"]["tta_decision"].is_string())
    out += "\ntrain --tta: " + printable(meta["inference"]["tta_decision"].get<std::string>());
  return out;
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("info", "Show what is in a model file: architecture, parameters, classes, preprocessing, training summary.");
  cmd->add_option("model", *path, "Model file")->required()->check(existing_file());
  auto config = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print the metadata as JSON (with created_iso and parameters added)");
  cmd->add_flag("--config", *config,
                "Print the options the model was trained with, as a file for 'imagefit train --config FILE'");
  cmd->callback([path, json, config] {
    if (*config) {
      nlohmann::json meta = read_model_metadata(*path);
      const auto& training = meta.contains("training") ? meta["training"] : nlohmann::json::object();
      if (!training.contains("config") || !training["config"].is_string())
        throw Error(*path + ": has no recorded config (trained by an older imagefit)");
      std::cout << training["config"].get<std::string>();
      return;
    }
    SavedModel model = load_model(*path);
    nlohmann::json& meta = model.metadata;
    const nlohmann::json training = meta.value("training", nlohmann::json::object());
    const ParameterCounts parameters = count_parameters(model.network, training);
    const std::string created = created_text(meta);
    if (*json) {
      if (!created.empty()) meta["created_iso"] = created;
      meta["parameters"] = parameters_json(parameters);
      std::cout << meta.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
      return;
    }
    const auto& net = meta["network"];
    const size_t w = 14;  // "architecture: "
    std::string file = printable(*path) + " (format version " + std::to_string(meta.value("format_version", 0));
    if (meta.contains("imagefit_version") && meta["imagefit_version"].is_string())
      file += ", imagefit " + meta["imagefit_version"].get<std::string>();
    print_item("model:", file + ")", 0, w);
    if (!created.empty()) print_item("created:", created, 0, w);
    std::string arch = net.value("arch", "?");
    if (net.value("alpha", 1.0) != 1.0) {
      char alpha[32];
      std::snprintf(alpha, sizeof alpha, " (alpha %g)", net.value("alpha", 1.0));
      arch += alpha;
    }
    print_item("architecture:", arch, 0, w);
    print_item("parameters:", parameters_text(parameters), 0, w);
    if (parameters.trained >= 0) print_item("trained:", trained_text(parameters), 0, w);
    const int size = net.value("image_size", 0);
    print_item("input:", std::to_string(size) + "x" + std::to_string(size) + " RGB (resize " + net.value("resize", "squash") +
                             "), normalization " + net.value("normalization", "?"), 0, w);
    std::string classes;
    for (size_t i = 0; i < net["classes"].size(); ++i) classes += (i ? ", " : "") + printable(net["classes"][i].get<std::string>());
    print_item("classes:", with_commas(static_cast<long long>(net["classes"].size())) + ": " + classes, 0, w);
    print_item("head:", head_text(net.value("head", nlohmann::json::object())), 0, w);
    print_item("calibration:", calibration_text(meta, model.inference), 0, w);
    print_item("TTA:", tta_text(meta, model.inference), 0, w);
    if (!training.empty()) {
      std::printf("\ntraining:\n");
      // The per-epoch table is left out: see --json or the .history.csv beside the model.
      const auto items = training_summary_items(training);
      size_t label_width = 0;
      for (const auto& [label, text] : items) label_width = std::max(label_width, display_width(label) + 2);
      for (const auto& [label, text] : items) print_item(label, printable_lines(text), 2, label_width);
    }
  });
}

}  // namespace imagefit::cli

#include "eval/evaluation_report.h"

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "augment/augment_params.h"
#include "core/history.h"
#include "data/image_io.h"
#include "report/confusion.h"
#include "report/curves.h"
#include "report/html_report.h"
#include "report/image_grid.h"

namespace imagefit {
namespace fs = std::filesystem;

namespace {

std::string as_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
    return buf;
  }
  return v.dump();
}

}  // namespace

KeyValues training_summary_items(const nlohmann::json& t) {
  KeyValues out;
  for (const auto& [key, value] : t.items()) {
    if (key == "history" || value.is_null()) continue;
    if (value.is_string() && value.get<std::string>().empty()) continue;
    if (key == "augment" && value.is_object()) {
      // The spec a user would type (`--augment ...`), not every parameter.
      try {
        out.emplace_back(key, describe(augment_from_json(value)));
        continue;
      } catch (const Error&) {
      }
    }
    out.emplace_back(key, as_text(value));
  }
  return out;
}

namespace {

KeyValues model_summary(const nlohmann::json& meta, const std::string& model_path, size_t classes) {
  KeyValues out;
  out.emplace_back("file", model_path);
  const nlohmann::json net = meta.value("network", nlohmann::json::object());
  std::string arch = net.value("arch", "?");
  if (net.contains("alpha") && net["alpha"].is_number() && net["alpha"].get<double>() != 1.0)
    arch += " (alpha " + as_text(net["alpha"]) + ")";
  out.emplace_back("architecture", arch);
  const int size = net.value("image_size", 0);
  out.emplace_back("input", std::to_string(size) + "×" + std::to_string(size) + " RGB (resize " +
                                net.value("resize", std::string("squash")) + "), " +
                                net.value("normalization", std::string("?")) + " normalization");
  out.emplace_back("classes", std::to_string(classes));
  if (net.contains("head")) {
    const auto& h = net["head"];
    out.emplace_back("head", h.value("pooling", std::string("?")) + " pooling, hidden " +
                                 std::to_string(h.value("hidden", 0)) + ", dropout " + as_text(h.value("dropout", 0.0)));
  }
  if (meta.contains("imagefit_version")) out.emplace_back("imagefit version", as_text(meta["imagefit_version"]));
  return out;
}

History stored_history(const nlohmann::json& meta, const std::string& model_path) {
  const auto t = meta.value("training", nlohmann::json::object());
  try {
    if (t.contains("history") && t["history"].is_string()) return history_from_csv(t["history"].get<std::string>());
    // Older files: the CSV written next to the model.
    if (t.contains("history_csv") && t["history_csv"].is_string()) {
      fs::path csv = fs::path(model_path).parent_path() / t["history_csv"].get<std::string>();
      if (fs::exists(csv)) return history_from_csv(read_file(csv));
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "warning: training history not shown: %s\n", e.what());
  }
  return {};
}

}  // namespace

std::vector<std::string> write_evaluation_report(const Evaluation& ev, const ReportOptions& opt) {
  std::error_code ec;
  fs::create_directories(opt.dir, ec);
  if (ec || !fs::is_directory(opt.dir)) throw Error(opt.dir + ": cannot create the report folder: " + ec.message());
  std::vector<std::string> written;
  const fs::path dir(opt.dir);
  const std::string model_name = fs::path(opt.model_path).filename().string();

  ReportData data;
  data.title = "imagefit report: " + model_name;
  data.subtitle = opt.model_path + " evaluated on " + ev.evaluated_on;
  data.model_summary = model_summary(ev.model_metadata, opt.model_path, ev.classes.size());
  if (ev.model_metadata.contains("training"))
    data.training_settings = training_summary_items(ev.model_metadata["training"]);
  data.history = stored_history(ev.model_metadata, opt.model_path);
  data.classes = ev.classes;
  data.confusion = ev.metrics.confusion;
  data.per_class = ev.metrics.per_class;
  data.accuracy = ev.metrics.accuracy;
  data.loss = ev.metrics.loss;
  data.evaluated_on = ev.evaluated_on + " (" + std::to_string(ev.metrics.count) + " images)";
  data.mistakes_total = int64_t(ev.mistakes.size());

  // The worst mistakes with their pictures (a file that cannot be read again gets a placeholder).
  std::vector<GridCell> cells;
  for (size_t i = 0; i < ev.mistakes.size() && int(i) < opt.max_mistakes; ++i) {
    const Mistake& m = ev.mistakes[i];
    MistakeExample ex;
    ex.path = m.path;
    ex.true_label = ev.classes[size_t(m.truth)];
    ex.predicted_label = ev.classes[size_t(m.predicted)];
    ex.probability = m.probability;
    try {
      ex.thumbnail = read_image_rgb(m.path);
    } catch (const Error&) {
    }
    char caption[256];
    std::snprintf(caption, sizeof caption, "true: %s / pred: %s %.2f", ex.true_label.c_str(),
                  ex.predicted_label.c_str(), m.probability);
    cells.push_back({ex.thumbnail, caption, fs::path(m.path).filename().string(), true});
    data.mistakes.push_back(std::move(ex));
  }

  const std::string title = model_name + " on " + fs::path(ev.evaluated_on).filename().string();
  const std::string confusion_path = (dir / "confusion.png").string();
  write_confusion_png(ev.classes, ev.metrics.confusion, "Confusion matrix: " + title, confusion_path);
  written.push_back(confusion_path);
  if (!cells.empty()) {
    const std::string mistakes_path = (dir / "mistakes.png").string();
    char grid_title[160];
    std::snprintf(grid_title, sizeof grid_title, "Most confident mistakes (%zu of %zu)", cells.size(), ev.mistakes.size());
    write_image_grid_png(cells, 6, 160, grid_title, mistakes_path);
    written.push_back(mistakes_path);
  }
  if (!data.history.empty()) {
    const std::string curves_path = (dir / "curves.png").string();
    write_curves_png(data.history, "Training curves: " + model_name, curves_path);
    written.push_back(curves_path);
  }
  const std::string html_path = (dir / "report.html").string();
  write_html_report(data, html_path);
  written.push_back(html_path);
  return written;
}

}  // namespace imagefit

#include "eval/evaluation_report.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "core/error.h"
#include "core/fs.h"
#include "augment/augment_params.h"
#include "core/history.h"
#include "core/text.h"
#include "eval/parameter_counts.h"
#include "data/image_io.h"
#include "report/calibration.h"
#include "report/confusion.h"
#include "report/curves.h"
#include "report/html_report.h"
#include "report/image_grid.h"

namespace imagefit {
namespace fs = std::filesystem;

namespace {

std::string as_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer()) return with_commas(v.get<long long>());
  if (v.is_number_unsigned()) return with_commas(static_cast<long long>(v.get<unsigned long long>()));
  if (v.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", v.get<double>());
    return buf;
  }
  return v.dump();
}

std::string fixed(const nlohmann::json& v, int decimals) {
  if (!v.is_number()) return as_text(v);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v.get<double>());
  return buf;
}

std::string share(const nlohmann::json& v) { return v.is_number() ? percent(v.get<double>()) : as_text(v); }
std::string seconds(const nlohmann::json& v) { return v.is_number() ? duration_text(v.get<double>()) : as_text(v); }

std::string augmentation(const nlohmann::json& v) {
  if (v.is_object()) {
    // The spec a user would type (`--augment ...`), not every parameter.
    try {
      return describe(augment_from_json(v));
    } catch (const Error&) {
    }
  }
  return as_text(v);
}

std::string head_solver(const nlohmann::json& v) {
  const std::string s = as_text(v);
  if (s == "lbfgs") return "L-BFGS, to convergence (logistic regression)";
  if (s == "epochs") return "the optimizer, for epochs";
  return s;
}

std::string epochs_option(const nlohmann::json& v) {
  return v.is_number() && v.get<double>() <= 0 ? "default" : as_text(v);
}

// A multi-line text ("plan: ...\nwhy: ...") without its first word when that repeats the label.
std::string without_prefix(const nlohmann::json& v, const std::string& prefix) {
  std::string s = as_text(v);
  if (s.rfind(prefix, 0) == 0) s = s.substr(prefix.size());
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

struct Field {
  const char* key;
  const char* label;
  std::function<std::string(const nlohmann::json&)> text;
};

// The training summary's keys, in the order a reader wants them, with their labels.
const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      {"data", "data", as_text},
      {"train_images", "training images", as_text},
      {"validation_images", "validation images", as_text},
      {"validation_source", "validation split", as_text},
      {"strategy", "strategy", as_text},
      {"auto_decision", "auto decided", as_text},
      {"plan", "plan", [](const nlohmann::json& v) { return without_prefix(v, "plan: "); }},
      {"weights", "pretrained weights", as_text},
      {"weights_description", "pretrained backbone", as_text},
      {"epochs", "epochs (option)", epochs_option},
      {"epochs_run", "epochs run", as_text},
      {"best_epoch", "best epoch", as_text},
      {"stopped", "stopped", as_text},
      {"diverged", "diverged", as_text},
      {"time_budget_seconds", "time budget", seconds},
      {"estimated_seconds", "estimated time", seconds},
      {"seconds", "training time", seconds},
      {"batch_size", "batch size", as_text},
      {"optimizer", "optimizer", as_text},
      {"learning_rate", "learning rate", as_text},
      {"backbone_learning_rate", "backbone learning rate", as_text},
      {"unfrozen_stages", "fine-tuned backbone stages", as_text},
      {"batchnorm_scales_folded", "BatchNorm scales folded", as_text},
      {"activation_cache", "activation cache", as_text},
      {"activation_cache_copies", "activation cache copies", as_text},
      {"head_solver", "head solver", head_solver},
      {"head_l2", "head L2 strength", as_text},
      {"feature_copies", "augmented feature copies", as_text},
      {"probe_val_accuracy", "linear probe val. accuracy", share},
      {"augment", "augmentation", augmentation},
      {"resize", "resize", as_text},
      {"precision", "precision", as_text},
      {"seed", "seed", [](const nlohmann::json& v) { return v.is_number() ? v.dump() : as_text(v); }},
      {"val_loss", "val. loss", [](const nlohmann::json& v) { return fixed(v, 4); }},
      {"val_accuracy", "val. accuracy", share},
      {"test_loss", "test loss", [](const nlohmann::json& v) { return fixed(v, 4); }},
      {"test_accuracy", "test accuracy", share},
      {"history_csv", "history file", as_text},
      {"config", "config", [](const nlohmann::json&) { return std::string("recorded (imagefit info MODEL --config prints it)"); }},
  };
  return f;
}

// A key no field names (a newer imagefit's): "some_key" → "some key".
std::string label_of(std::string key) {
  for (auto& c : key)
    if (c == '_') c = ' ';
  return key;
}

}  // namespace

std::string created_text(const nlohmann::json& meta) {
  if (!meta.is_object() || !meta.contains("created")) return "";
  const auto& c = meta["created"];
  // Stored as epoch seconds in a string ("1796173897"); a number is accepted too.
  long long seconds = 0;
  if (c.is_number_integer()) {
    seconds = c.get<long long>();
  } else if (c.is_string()) {
    const std::string s = c.get<std::string>();
    char* end = nullptr;
    seconds = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0') return s;  // not epoch seconds: shown as it is
  } else {
    return "";
  }
  return iso8601_local(seconds);
}

std::string head_text(const nlohmann::json& h) {
  if (!h.is_object()) return "";
  const long long hidden = h.value("hidden", 0LL);
  char dropout[32];
  std::snprintf(dropout, sizeof dropout, "%g", h.value("dropout", 0.0));
  const std::string pooling = h.value("pooling", std::string("?"));
  return (pooling == "flatten" ? pooling : pooling + " pooling") + ", " +
         (hidden > 0 ? plural(hidden, "hidden unit") : std::string("no hidden layer")) + ", dropout " + dropout + ", " +
         plural(h.value("classes", 0LL), "output");
}

KeyValues training_summary_items(const nlohmann::json& t) {
  KeyValues out;
  if (!t.is_object()) return out;
  const auto skip = [](const std::string& key, const nlohmann::json& value) {
    return key == "history" || value.is_null() || (value.is_string() && value.get<std::string>().empty());
  };
  for (const auto& f : fields())
    if (t.contains(f.key) && !skip(f.key, t[f.key])) out.emplace_back(f.label, f.text(t[f.key]));
  for (const auto& [key, value] : t.items()) {
    if (skip(key, value)) continue;
    bool known = false;
    for (const auto& f : fields()) known |= key == f.key;
    if (!known) out.emplace_back(label_of(key), as_text(value));
  }
  return out;
}

namespace {

KeyValues model_summary(const nlohmann::json& meta, const std::string& model_path, size_t classes,
                        const ParameterCounts& parameters) {
  KeyValues out;
  out.emplace_back("file", model_path);
  if (const std::string created = created_text(meta); !created.empty()) out.emplace_back("created", created);
  const nlohmann::json net = meta.value("network", nlohmann::json::object());
  std::string arch = net.value("arch", "?");
  if (net.contains("alpha") && net["alpha"].is_number() && net["alpha"].get<double>() != 1.0)
    arch += " (alpha " + as_text(net["alpha"]) + ")";
  out.emplace_back("architecture", arch);
  if (parameters.total > 0) {
    out.emplace_back("parameters", parameters_text(parameters));
    if (parameters.trained >= 0) out.emplace_back("trained parameters", trained_text(parameters));
  }
  const int size = net.value("image_size", 0);
  out.emplace_back("input", std::to_string(size) + "×" + std::to_string(size) + " RGB (resize " +
                                net.value("resize", std::string("squash")) + "), " +
                                net.value("normalization", std::string("?")) + " normalization");
  out.emplace_back("classes", with_commas(static_cast<long long>(classes)));
  if (net.contains("head")) {
    const auto& h = net["head"];
    out.emplace_back("head", head_text(h));
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
  data.model_summary = model_summary(ev.model_metadata, opt.model_path, ev.classes.size(), ev.parameters);
  if (ev.model_metadata.contains("training"))
    data.training_settings = training_summary_items(ev.model_metadata["training"]);
  data.history = stored_history(ev.model_metadata, opt.model_path);
  data.classes = ev.classes;
  data.confusion = ev.metrics.confusion;
  data.per_class = ev.metrics.per_class;
  data.accuracy = ev.metrics.accuracy;
  data.loss = ev.metrics.loss;
  data.evaluated_on = ev.evaluated_on + " (" + plural(ev.metrics.count, "image") + ")";
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
    const std::string grid_title = "Most confident mistakes (" + with_commas(static_cast<long long>(cells.size())) + " of " +
                                   with_commas(static_cast<long long>(ev.mistakes.size())) + ")";
    write_image_grid_png(cells, 6, 160, grid_title, mistakes_path);
    written.push_back(mistakes_path);
  }
  if (!data.history.empty()) {
    const std::string curves_path = (dir / "curves.png").string();
    write_curves_png(data.history, "Training curves: " + model_name, curves_path);
    written.push_back(curves_path);
  }
  // Calibration on these images: the reliability diagram before / after the model's temperature.
  const CalibrationSummary& cal = ev.calibration;
  if (!cal.bins_after.empty()) {
    data.temperature = cal.temperature;
    data.ece_before = cal.ece_before;
    data.ece_after = cal.ece_after;
    data.loss_uncalibrated = cal.loss_uncalibrated;
    char note[512];
    if (cal.validation.is_object() && cal.validation.contains("ece_before"))
      std::snprintf(note, sizeof note,
                    "T was fitted on the validation split (%lld images) by minimising its negative log-likelihood: "
                    "validation ECE %.2f%% -> %.2f%%, NLL %.4f -> %.4f.%s",
                    (long long)cal.validation.value("images", 0), 100 * cal.validation.value("ece_before", 0.0),
                    100 * cal.validation.value("ece_after", 0.0), cal.validation.value("nll_before", 0.0),
                    cal.validation.value("nll_after", 0.0),
                    cal.tta ? (" Test-time augmentation: " + std::to_string(cal.views) + " views averaged.").c_str() : "");
    else
      std::snprintf(note, sizeof note, "This model records no calibration (T = 1).%s",
                    cal.tta ? (" Test-time augmentation: " + std::to_string(cal.views) + " views averaged.").c_str() : "");
    data.calibration_note = note;
    data.reliability_png = reliability_diagram_png(cal.bins_before, cal.ece_before, cal.bins_after, cal.ece_after, cal.temperature);
    const std::string reliability_path = (dir / "reliability.png").string();
    atomic_write(reliability_path, [&](std::ostream& out) {
      out.write(reinterpret_cast<const char*>(data.reliability_png.data()), std::streamsize(data.reliability_png.size()));
    });
    written.push_back(reliability_path);
  }
  const std::string html_path = (dir / "report.html").string();
  write_html_report(data, html_path);
  written.push_back(html_path);
  return written;
}

}  // namespace imagefit

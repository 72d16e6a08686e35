#include "report/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "core/error.h"
#include "core/text.h"
#include "report/canvas.h"
#include "report/confusion.h"
#include "report/curves.h"
#include "report/data_uri.h"
#include "report/image_grid.h"

namespace imagefit {

namespace {

constexpr int kThumbnailSide = 240;  // px of embedded mistake thumbnails (shown at 180 CSS px)

const char* kStyle = R"css(
:root { --text: #1f2328; --muted: #59636e; --border: #d1d9e0; --bg: #f6f8fa; --accent: #0969da;
        --bad: #cf222e; --good: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", Roboto, Helvetica, Arial, sans-serif;
       color: var(--text); background: var(--bg); }
header.page { background: #fff; border-bottom: 1px solid var(--border); }
header.page .inner, main, footer { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header.page h1 { margin: 0; padding-top: 22px; font-size: 26px; }
header.page .subtitle { margin: 2px 0 0; color: var(--muted); }
nav { display: flex; flex-wrap: wrap; gap: 4px 18px; padding: 12px 0 14px; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
section { background: #fff; border: 1px solid var(--border); border-radius: 8px; padding: 18px 22px;
          margin: 20px 0; }
section > h2 { margin: 0 0 12px; font-size: 19px; }
.note { color: var(--muted); margin: 0 0 12px; font-size: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(165px, 1fr)); gap: 14px; }
.card { border: 1px solid var(--border); border-radius: 8px; padding: 12px 14px; background: #fbfcfd; }
.card .label { color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .detail { color: var(--muted); font-size: 13px; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 20px; }
.columns > section { margin: 20px 0 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid #eaeef2; text-align: left; }
th { font-weight: 600; }
table.kv { width: 100%; }
table.kv th { width: 42%; color: var(--muted); font-weight: 500; }
table.kv td { word-break: break-word; }
table.metrics td.num, table.metrics th.num, table.history td, table.history th { text-align: right; }
table.metrics td.num { min-width: 90px; }
table.metrics td.f1 { background-repeat: no-repeat; background-size: var(--w) 100%;
                      background-image: linear-gradient(#ddf4ff, #ddf4ff); }
table.metrics tfoot td, table.metrics tfoot th { border-top: 2px solid var(--border); color: var(--muted); }
table.history tr.best td { background: #dafbe1; font-weight: 600; }
table.history td.phase, table.history th.phase { text-align: left; }
figure { margin: 0; }
img.plot { display: block; max-width: 100%; height: auto; margin: 0 auto; }
details { margin-top: 12px; }
summary { cursor: pointer; color: var(--accent); }
.table-scroll { overflow-x: auto; }
table.confusion-table { margin-top: 8px; font-size: 13px; }
table.confusion-table td { text-align: center; min-width: 38px; border: 1px solid #fff; }
table.confusion-table td.diag { font-weight: 700; }
table.confusion-table th { font-size: 12px; white-space: nowrap; }
table.confusion-table thead th.vertical span { writing-mode: vertical-rl; transform: rotate(180deg); }
table.confusion-table th.corner { color: var(--muted); font-weight: 500; }
table.confusion-table td.total { color: var(--muted); background: #fff; }
.mistake-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 16px; }
figure.mistake { border: 1px solid var(--border); border-radius: 6px; overflow: hidden; background: #fff; }
figure.mistake .thumb { height: 180px; display: flex; align-items: center; justify-content: center;
                        background: #eef1f4; }
figure.mistake img { width: 100%; height: 180px; object-fit: contain; }
figure.mistake figcaption { padding: 6px 8px 8px; font-size: 13px; line-height: 1.35; }
figure.mistake .true { display: block; }
figure.mistake .pred { display: block; color: var(--bad); font-weight: 600; }
figure.mistake .file { display: block; color: var(--muted); font-size: 12px; overflow: hidden;
                       text-overflow: ellipsis; white-space: nowrap; }
.empty { color: var(--good); font-weight: 600; }
footer { color: var(--muted); font-size: 13px; padding-bottom: 30px; }
@media print { body { background: #fff; } section { break-inside: avoid; } nav { display: none; } }
)css";

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string number(double v, int decimals) {
  if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string hex_color(uint32_t rgb) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%06x", rgb & 0xffffff);
  return buf;
}

std::string now_local() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::string file_name(const std::string& path) {
  size_t slash = path.find_last_of("/\\");
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void card(std::ostream& o, const std::string& label, const std::string& value, const std::string& detail,
          const std::string& id) {
  o << "<div class=\"card\" id=\"" << id << "\"><div class=\"label\">" << html_escape(label)
    << "</div><div class=\"value\">" << html_escape(value) << "</div>";
  if (!detail.empty()) o << "<div class=\"detail\">" << html_escape(detail) << "</div>";
  o << "</div>\n";
}

void key_values(std::ostream& o, const std::string& id, const std::string& heading, const KeyValues& kv) {
  o << "<section id=\"" << id << "\"><h2>" << html_escape(heading) << "</h2>\n<table class=\"kv\">\n";
  for (const auto& [k, v] : kv) o << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>\n";
  o << "</table></section>\n";
}

void metrics_row(std::ostream& o, const ClassMetrics& m, bool footer) {
  const char* cell = footer ? "th" : "td";
  o << "<tr><" << cell << " class=\"name\">" << html_escape(m.name) << "</" << cell << ">"
    << "<td class=\"num\">" << number(m.precision, 3) << "</td>"
    << "<td class=\"num\">" << number(m.recall, 3) << "</td>"
    << "<td class=\"num f1\" style=\"--w:" << number(std::clamp(m.f1, 0.0, 1.0) * 100, 1) << "%\">"
    << number(m.f1, 3) << "</td>"
    << "<td class=\"num\">" << with_commas(m.support) << "</td></tr>\n";
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_html_report(const ReportData& d) {
  const bool has_matrix = !d.confusion.empty();
  ClassificationMetrics computed;
  if (has_matrix) computed = metrics_from_confusion(d.classes, d.confusion);  // also validates the matrix
  const std::vector<ClassMetrics>& per_class = d.per_class.empty() ? computed.per_class : d.per_class;
  const double accuracy = std::isfinite(d.accuracy) ? d.accuracy : has_matrix ? computed.accuracy : NAN;
  int64_t trace = 0;
  for (size_t i = 0; i < d.confusion.size(); ++i) trace += d.confusion[i][i];
  const int64_t mistakes_total =
      d.mistakes_total >= 0 ? d.mistakes_total : has_matrix ? computed.total - trace : int64_t(d.mistakes.size());
  const int best = best_finite_epoch_index(d.history);

  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<meta name=\"generator\" content=\"imagefit\">\n"
    << "<title>" << html_escape(d.title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";

  // Header and in-page navigation.
  o << "<header class=\"page\"><div class=\"inner\">\n<h1>" << html_escape(d.title) << "</h1>\n";
  if (!d.subtitle.empty()) o << "<p class=\"subtitle\">" << html_escape(d.subtitle) << "</p>\n";
  o << "<nav>";
  o << "<a href=\"#summary\">Summary</a>";
  if (!d.model_summary.empty()) o << "<a href=\"#model\">Model</a>";
  if (!d.training_settings.empty()) o << "<a href=\"#settings\">Training settings</a>";
  if (!d.history.empty()) o << "<a href=\"#curves\">Training curves</a>";
  if (has_matrix || !per_class.empty()) o << "<a href=\"#metrics\">Per-class metrics</a>";
  if (has_matrix) o << "<a href=\"#confusion\">Confusion matrix</a>";
  if (std::isfinite(d.temperature)) o << "<a href=\"#calibration\">Calibration</a>";
  o << "<a href=\"#mistakes\">Mistakes</a>";
  if (!d.figures.empty()) o << "<a href=\"#figures\">Figures</a>";
  o << "</nav>\n</div></header>\n<main>\n";

  // Summary cards.
  o << "<section id=\"summary\"><h2>Summary</h2>\n";
  if (!d.evaluated_on.empty()) o << "<p class=\"note\">Evaluated on " << html_escape(d.evaluated_on) << ".</p>\n";
  o << "<div class=\"cards\">\n";
  if (std::isfinite(accuracy))
    card(o, "Accuracy", percent(accuracy), has_matrix ? with_commas(trace) + " of " + with_commas(computed.total) + " correct" : "",
         "card-accuracy");
  if (std::isfinite(d.loss)) card(o, "Loss", number(d.loss, 4), "mean cross-entropy", "card-loss");
  if (has_matrix) card(o, "Images", with_commas(computed.total), plural(static_cast<long long>(d.classes.size()), "class", "classes"), "card-images");
  if (has_matrix || !d.mistakes.empty())
    card(o, "Mistakes", with_commas(mistakes_total),
         has_matrix && computed.total ? percent(double(mistakes_total) / computed.total) + " error rate" : "",
         "card-mistakes");
  if (has_matrix) card(o, "Macro F1", number(computed.macro_avg.f1, 3), "unweighted mean over classes", "card-f1");
  if (best >= 0) {
    const auto& r = d.history[best];
    card(o, "Best epoch", with_commas(r.epoch > 0 ? r.epoch : best + 1) + " of " + with_commas(static_cast<long long>(d.history.size())),
         "val. loss " + number(r.val_loss, 4) + ", val. accuracy " + percent(r.val_accuracy), "card-best-epoch");
  }
  o << "</div></section>\n";

  // Model and settings, side by side.
  if (!d.model_summary.empty() || !d.training_settings.empty()) {
    o << "<div class=\"columns\">\n";
    if (!d.model_summary.empty()) key_values(o, "model", "Model", d.model_summary);
    if (!d.training_settings.empty()) key_values(o, "settings", "Training settings", d.training_settings);
    o << "</div>\n";
  }

  // Training curves (SVG: sharp at any zoom) and the per-epoch numbers.
  if (!d.history.empty()) {
    o << "<section id=\"curves\"><h2>Training curves</h2>\n"
      << "<p class=\"note\">Training and validation accuracy and loss per epoch. The dashed green line marks the "
         "epoch with the lowest validation loss (the checkpoint that is kept).</p>\n"
      << "<figure><img class=\"plot\" width=\"1200\" height=\"480\" alt=\"training and validation accuracy and loss per epoch\" src=\""
      << data_uri("image/svg+xml", curves_svg(d.history, d.title)) << "\"></figure>\n";
    o << "<details><summary>Per-epoch numbers (" << plural(static_cast<long long>(d.history.size()), "epoch") << ")</summary>\n"
      << "<div class=\"table-scroll\"><table class=\"history\"><thead><tr><th>epoch</th><th class=\"phase\">phase</th>"
      << "<th>loss</th><th>accuracy</th><th>val. loss</th><th>val. accuracy</th><th>learning rate</th>"
      << "<th>seconds</th><th>images/s</th></tr></thead><tbody>\n";
    for (size_t i = 0; i < d.history.size(); ++i) {
      const auto& r = d.history[i];
      o << "<tr" << (int(i) == best ? " class=\"best\"" : "") << "><td>" << r.epoch << "</td><td class=\"phase\">"
        << html_escape(r.phase) << "</td><td>" << number(r.train_loss, 4) << "</td><td>" << number(r.train_accuracy, 4)
        << "</td><td>" << number(r.val_loss, 4) << "</td><td>" << number(r.val_accuracy, 4) << "</td><td>"
        << fmt("%.3g", r.learning_rate) << "</td><td>" << number(r.seconds, 1) << "</td><td>"
        << number(r.images_per_second, 0) << "</td></tr>\n";
    }
    o << "</tbody></table></div></details>\n</section>\n";
  }

  // Per-class metrics.
  if (!per_class.empty()) {
    o << "<section id=\"metrics\"><h2>Per-class metrics</h2>\n"
      << "<p class=\"note\">Precision: of the images predicted as the class, the share that are. Recall: of the "
         "images of the class, the share found. F1: their harmonic mean. Support: images of the class.</p>\n"
      << "<div class=\"table-scroll\"><table class=\"metrics\"><thead><tr><th>class</th><th class=\"num\">precision</th>"
      << "<th class=\"num\">recall</th><th class=\"num\">F1</th><th class=\"num\">support</th></tr></thead><tbody>\n";
    for (const auto& m : per_class) metrics_row(o, m, false);
    o << "</tbody>";
    if (has_matrix) {
      o << "<tfoot><tr><th>accuracy</th><td class=\"num\"></td><td class=\"num\"></td><td class=\"num\">"
        << number(computed.accuracy, 3) << "</td><td class=\"num\">" << with_commas(computed.total) << "</td></tr>\n";
      metrics_row(o, computed.macro_avg, true);
      metrics_row(o, computed.weighted_avg, true);
      o << "</tfoot>";
    }
    o << "</table></div></section>\n";
  }

  // Confusion matrix: the picture, then the same numbers as a table.
  if (has_matrix) {
    const size_t n = d.classes.size();
    int64_t max_count = 0;
    for (const auto& row : d.confusion)
      for (int64_t v : row) max_count = std::max(max_count, v);
    o << "<section id=\"confusion\"><h2>Confusion matrix</h2>\n"
      << "<p class=\"note\">Rows: true class; columns: predicted class. The diagonal holds the correct predictions."
         "</p>\n<figure><img class=\"plot\" alt=\"confusion matrix\" src=\""
      << data_uri("image/svg+xml", confusion_svg(d.classes, d.confusion, "Confusion matrix")) << "\"></figure>\n";
    o << "<details" << (n <= 12 ? " open" : "") << "><summary>As a table</summary>\n"
      << "<div class=\"table-scroll\"><table class=\"confusion-table\"><thead><tr>"
      << "<th class=\"corner\">true \\ predicted</th>";
    const bool vertical = n > 8;
    for (const auto& c : d.classes)
      o << "<th" << (vertical ? " class=\"vertical\"" : "") << "><span>" << html_escape(c) << "</span></th>";
    o << "<th class=\"corner\">total</th></tr></thead><tbody>\n";
    for (size_t r = 0; r < n; ++r) {
      int64_t row_total = 0;
      o << "<tr><th>" << html_escape(d.classes[r]) << "</th>";
      for (size_t c = 0; c < n; ++c) {
        int64_t v = d.confusion[r][c];
        row_total += v;
        double t = max_count ? double(v) / max_count : 0.0;
        o << "<td class=\"" << (r == c ? "diag" : "off") << "\" style=\"background:" << hex_color(heat_color(t))
          << (heat_text_is_light(t) ? ";color:#fff" : "") << "\">" << v << "</td>";
      }
      o << "<td class=\"total\">" << row_total << "</td></tr>\n";
    }
    o << "</tbody></table></div></details>\n</section>\n";
  }

  // Calibration: are the probabilities shown honest? ECE before / after the temperature.
  if (std::isfinite(d.temperature)) {
    o << "<section id=\"calibration\"><h2>Calibration</h2>\n"
      << "<p class=\"note\">Expected calibration error (ECE): the images are put in 15 equal-width bins of their top "
         "probability; ECE is the mean gap between a bin's accuracy and its mean probability, weighted by its images. The "
         "probabilities imagefit shows are softmax(logits / T).</p>\n<div class=\"cards\">\n";
    card(o, "Temperature", fmt("%.3g", d.temperature), d.temperature == 1 ? "uncalibrated" : "softmax(logits / T)",
         "card-temperature");
    if (std::isfinite(d.ece_before)) card(o, "ECE uncalibrated", percent(d.ece_before, 2), "T = 1", "card-ece-before");
    if (std::isfinite(d.ece_after)) card(o, "ECE calibrated", percent(d.ece_after, 2), "at T", "card-ece-after");
    if (std::isfinite(d.loss_uncalibrated))
      card(o, "Loss uncalibrated", number(d.loss_uncalibrated, 4), "cross-entropy at T = 1", "card-loss-uncalibrated");
    o << "</div>\n";
    if (!d.calibration_note.empty()) o << "<p class=\"note\">" << html_escape(d.calibration_note) << "</p>\n";
    if (!d.reliability_png.empty())
      o << "<figure><img class=\"plot\" alt=\"reliability diagram: accuracy against confidence, before and after "
           "temperature scaling\" src=\"" << data_uri("image/png", d.reliability_png) << "\"></figure>\n";
    o << "</section>\n";
  }

  // Mistakes, most confident first.
  o << "<section id=\"mistakes\"><h2>Mistakes</h2>\n";
  if (d.mistakes.empty()) {
    o << "<p class=\"empty\">" << (has_matrix && mistakes_total == 0 ? "No mistakes on this set." : "No mistakes to show.")
      << "</p>\n";
  } else {
    const int64_t shown_of = std::max<int64_t>(mistakes_total, int64_t(d.mistakes.size()));
    o << "<p class=\"note\">Showing " << with_commas(static_cast<long long>(d.mistakes.size())) << " of "
      << plural(shown_of, "misclassified image") << ", the most confident mistakes first.</p>\n<div class=\"mistake-grid\">\n";
    for (const auto& m : d.mistakes) {
      o << "<figure class=\"mistake\"><div class=\"thumb\">";
      if (!m.thumbnail.empty())
        o << "<img alt=\"" << html_escape(file_name(m.path)) << "\" src=\""
          << data_uri("image/jpeg", encode_rgb_jpeg(m.thumbnail, kThumbnailSide)) << "\">";
      o << "</div><figcaption><span class=\"true\">true: " << html_escape(m.true_label) << "</span>"
        << "<span class=\"pred\">predicted: " << html_escape(m.predicted_label);
      if (std::isfinite(m.probability)) o << " (" << number(m.probability, 2) << ")";
      o << "</span><span class=\"file\" title=\"" << html_escape(m.path) << "\">" << html_escape(file_name(m.path))
        << "</span></figcaption></figure>\n";
    }
    o << "</div>\n";
  }
  o << "</section>\n";

  if (!d.figures.empty()) {
    o << "<section id=\"figures\"><h2>Figures</h2>\n";
    for (const auto& f : d.figures) {
      o << "<figure class=\"extra\">";
      if (!f.title.empty()) o << "<h3>" << html_escape(f.title) << "</h3>";
      o << "<img class=\"plot\" alt=\"" << html_escape(f.title) << "\" src=\"" << data_uri("image/png", f.png) << "\">";
      if (!f.caption.empty()) o << "<figcaption class=\"note\">" << html_escape(f.caption) << "</figcaption>";
      o << "</figure>\n";
    }
    o << "</section>\n";
  }

  o << "</main>\n<footer>Generated by imagefit on " << html_escape(d.generated_at.empty() ? now_local() : d.generated_at)
    << ". This page is self-contained: it loads nothing from the network.</footer>\n</body>\n</html>\n";
  return o.str();
}

void write_html_report(const ReportData& data, const std::string& path) {
  canvas::write_file(path, render_html_report(data));
}

}  // namespace imagefit

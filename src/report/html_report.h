#pragma once
// The evaluation report: ONE self-contained report.html (inline CSS, pictures as base64 data: URIs,
// no scripts, no network) with the summary, the model and training settings, the training curves,
// per-class metrics, the confusion matrix (picture and table) and the images the model gets wrong.
// Everything is plain data, so `train` and `evaluate --report` fill it without LibTorch here.
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "core/history.h"
#include "report/metrics.h"

namespace imagefit {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct MistakeExample {
  std::string path;  // shown as the file name, full path on hover
  std::string true_label, predicted_label;
  double probability = std::numeric_limits<double>::quiet_NaN();  // of the predicted class; NaN: not shown
  cv::Mat thumbnail;  // RGB (any size; shrunk for the page); empty: no picture
};

// An extra picture (e.g. the augmentation preview grid), already encoded as PNG.
struct ReportFigure {
  std::string title, caption;
  std::vector<unsigned char> png;
};

struct ReportData {
  std::string title = "imagefit report";
  std::string subtitle;       // e.g. "model.imagefit evaluated on data/test"
  std::string generated_at;   // shown in the footer; "" → the current local time
  KeyValues model_summary;    // architecture, parameters, input size, classes, file, ...
  KeyValues training_settings;  // epochs, batch size, optimizer, learning rate, augmentation, ...
  History history;            // empty: no curves section

  std::vector<std::string> classes;
  ConfusionMatrix confusion;  // rows = true, columns = predicted; empty: no metrics/confusion sections
  // Per-class metrics and accuracy; empty / NaN: computed from the confusion matrix.
  std::vector<ClassMetrics> per_class;
  double accuracy = std::numeric_limits<double>::quiet_NaN();
  double loss = std::numeric_limits<double>::quiet_NaN();  // NaN: not shown
  std::string evaluated_on;   // e.g. "test split (1,000 images)"

  std::vector<MistakeExample> mistakes;  // worst (most confident) first; may be a sample
  int64_t mistakes_total = -1;           // all mistakes on the set; -1: mistakes.size() (or from the matrix)
  std::vector<ReportFigure> figures;     // shown after the mistakes

  // Calibration (report/calibration.h) on the evaluated images; NaN temperature: no section.
  double temperature = std::numeric_limits<double>::quiet_NaN();
  double ece_before = std::numeric_limits<double>::quiet_NaN(), ece_after = std::numeric_limits<double>::quiet_NaN();
  double loss_uncalibrated = std::numeric_limits<double>::quiet_NaN();
  std::string calibration_note;              // how T was fitted, TTA, the validation numbers
  std::vector<unsigned char> reliability_png;  // the reliability diagram (before | after)
};

// The whole page as a string, and written atomically (Error naming `path` on failure).
std::string render_html_report(const ReportData& data);
void write_html_report(const ReportData& data, const std::string& path);

// HTML-escapes text for element content and attribute values.
std::string html_escape(const std::string& text);

}  // namespace imagefit

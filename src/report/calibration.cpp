#include "report/calibration.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"
#include "report/canvas.h"

namespace imagefit {

namespace {

// log softmax(z / T)[k] for each k of one view, in double.
void log_softmax(const float* z, size_t c, double inv_t, std::vector<double>& out) {
  out.resize(c);
  double m = -std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < c; ++k) m = std::max(m, double(z[k]) * inv_t);
  double s = 0;
  for (size_t k = 0; k < c; ++k) s += std::exp(double(z[k]) * inv_t - m);
  const double lse = m + std::log(s);
  for (size_t k = 0; k < c; ++k) out[k] = double(z[k]) * inv_t - lse;
}

void check_counts(const ViewLogits& logits, const std::vector<int>& labels) {
  if (logits.images() == 0) throw Error("calibration: no images to fit a temperature on");
  if (labels.size() != logits.images())
    throw Error("calibration: " + std::to_string(labels.size()) + " labels for " + std::to_string(logits.images()) +
                " images");
  for (int y : labels)
    if (y < 0 || size_t(y) >= logits.classes) throw Error("calibration: label " + std::to_string(y) + " out of range");
}

}  // namespace

ViewLogits ViewLogits::view(size_t v) const {
  ViewLogits out;
  out.classes = classes;
  out.views = 1;
  out.values.reserve(images() * classes);
  for (size_t i = 0; i < images(); ++i) out.values.insert(out.values.end(), at(i, v), at(i, v) + classes);
  return out;
}

std::vector<std::vector<float>> calibrated_probabilities(const ViewLogits& logits, double temperature) {
  std::vector<std::vector<float>> out(logits.images(), std::vector<float>(logits.classes, 0.f));
  std::vector<double> lp, mean(logits.classes);
  for (size_t i = 0; i < logits.images(); ++i) {
    std::fill(mean.begin(), mean.end(), 0.0);
    for (size_t v = 0; v < logits.views; ++v) {
      log_softmax(logits.at(i, v), logits.classes, 1.0 / temperature, lp);
      for (size_t k = 0; k < logits.classes; ++k) mean[k] += std::exp(lp[k]) / double(logits.views);
    }
    for (size_t k = 0; k < logits.classes; ++k) out[i][k] = float(mean[k]);
  }
  return out;
}

double temperature_nll(const ViewLogits& logits, const std::vector<int>& labels, double temperature) {
  check_counts(logits, labels);
  std::vector<double> lp;
  double sum = 0;
  for (size_t i = 0; i < logits.images(); ++i) {
    // log mean_v p_v[y] = logsumexp_v(log p_v[y]) − log V: no underflow for a confident wrong view.
    double m = -std::numeric_limits<double>::infinity(), s = 0;
    std::vector<double> per_view(logits.views);
    for (size_t v = 0; v < logits.views; ++v) {
      log_softmax(logits.at(i, v), logits.classes, 1.0 / temperature, lp);
      per_view[v] = lp[size_t(labels[i])];
      m = std::max(m, per_view[v]);
    }
    for (double x : per_view) s += std::exp(x - m);
    sum -= m + std::log(s) - std::log(double(logits.views));
  }
  return sum / double(logits.images());
}

double fit_temperature(const ViewLogits& logits, const std::vector<int>& labels) {
  check_counts(logits, labels);
  const double lo = std::log(kMinTemperature), hi = std::log(kMaxTemperature);
  auto f = [&](double u) { return temperature_nll(logits, labels, std::exp(u)); };
  // Grid first: brackets the minimum even if the multi-view NLL were not unimodal.
  constexpr int kGrid = 48;
  int best = 0;
  double best_f = std::numeric_limits<double>::infinity();
  for (int g = 0; g <= kGrid; ++g) {
    const double fu = f(lo + (hi - lo) * g / kGrid);
    if (fu < best_f) best_f = fu, best = g;
  }
  double a = lo + (hi - lo) * std::max(0, best - 1) / kGrid, b = lo + (hi - lo) * std::min(kGrid, best + 1) / kGrid;
  const double r = (std::sqrt(5.0) - 1) / 2;
  double x1 = b - r * (b - a), x2 = a + r * (b - a), f1 = f(x1), f2 = f(x2);
  while (b - a > 1e-7) {
    if (f1 < f2) {
      b = x2, x2 = x1, f2 = f1, x1 = b - r * (b - a), f1 = f(x1);
    } else {
      a = x1, x1 = x2, f1 = f2, x2 = a + r * (b - a), f2 = f(x2);
    }
  }
  return std::exp((a + b) / 2);
}

std::vector<ReliabilityBin> reliability_bins(const std::vector<std::vector<float>>& probabilities,
                                             const std::vector<int>& labels, int bins) {
  if (bins < 1) throw Error("calibration: at least one bin");
  if (labels.size() != probabilities.size())
    throw Error("calibration: " + std::to_string(labels.size()) + " labels for " + std::to_string(probabilities.size()) +
                " images");
  std::vector<ReliabilityBin> out(static_cast<size_t>(bins));
  std::vector<double> conf_sum(size_t(bins), 0), correct(size_t(bins), 0);
  for (int b = 0; b < bins; ++b) out[size_t(b)].lo = double(b) / bins, out[size_t(b)].hi = double(b + 1) / bins;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    const auto& p = probabilities[i];
    if (p.empty()) continue;
    const size_t top = size_t(std::max_element(p.begin(), p.end()) - p.begin());
    const double conf = p[top];
    // (lo, hi]: ceil(conf · bins) − 1, so a confidence of exactly 1/15 is in the first bin.
    const int b = std::clamp(int(std::ceil(conf * bins)) - 1, 0, bins - 1);
    out[size_t(b)].count++;
    conf_sum[size_t(b)] += conf;
    correct[size_t(b)] += int(top) == labels[i] ? 1 : 0;
  }
  for (size_t b = 0; b < out.size(); ++b)
    if (out[b].count) {
      out[b].confidence = conf_sum[b] / double(out[b].count);
      out[b].accuracy = correct[b] / double(out[b].count);
    }
  return out;
}

double expected_calibration_error(const std::vector<ReliabilityBin>& bins) {
  int64_t n = 0;
  for (const auto& b : bins) n += b.count;
  if (n == 0) return 0;
  double e = 0;
  for (const auto& b : bins) e += double(b.count) / double(n) * std::abs(b.accuracy - b.confidence);
  return e;
}

double expected_calibration_error(const std::vector<std::vector<float>>& probabilities, const std::vector<int>& labels,
                                  int bins) {
  return expected_calibration_error(reliability_bins(probabilities, labels, bins));
}

namespace {

void draw_panel(cairo_t* cr, double left, double top, double size, const std::vector<ReliabilityBin>& bins,
                const std::string& title) {
  using namespace canvas;
  set_color(cr, hex(0x222222));
  set_font(cr, 15, true);
  draw_text(cr, title, left + size / 2, top - 12, HAlign::kCenter, VAlign::kBaseline);
  // Bars: the accuracy of each bin; the gap to the diagonal is the miscalibration.
  for (const auto& b : bins) {
    const double x = left + b.lo * size, w = (b.hi - b.lo) * size;
    if (b.count == 0) continue;
    set_color(cr, hex(0x3b6fb6));
    cairo_rectangle(cr, x + 1, top + size * (1 - b.accuracy), w - 2, size * b.accuracy);
    cairo_fill(cr);
    // The bin's mean confidence, as a red tick.
    set_color(cr, hex(0xd9534f));
    cairo_set_line_width(cr, 2.5);
    cairo_move_to(cr, x + 1, top + size * (1 - b.confidence));
    cairo_line_to(cr, x + w - 1, top + size * (1 - b.confidence));
    cairo_stroke(cr);
  }
  set_color(cr, hex(0x888888));
  cairo_set_line_width(cr, 1.0);
  const double dash[] = {5.0, 4.0};
  cairo_set_dash(cr, dash, 2, 0);
  cairo_move_to(cr, left, top + size);
  cairo_line_to(cr, left + size, top);
  cairo_stroke(cr);
  cairo_set_dash(cr, nullptr, 0, 0);
  set_color(cr, hex(0x444444));
  stroke_rect(cr, left, top, size, size, 1.0);
  set_font(cr, 11);
  for (int t = 0; t <= 5; ++t) {
    const double v = t / 5.0;
    char label[16];
    std::snprintf(label, sizeof label, "%.1f", v);
    draw_text(cr, label, left + v * size, top + size + 6, HAlign::kCenter, VAlign::kTop);
    draw_text(cr, label, left - 6, top + size * (1 - v), HAlign::kRight, VAlign::kMiddle);
  }
  set_font(cr, 12, true);
  draw_text(cr, "confidence (top-class probability)", left + size / 2, top + size + 24, HAlign::kCenter, VAlign::kTop);
  draw_text(cr, "accuracy", left - 36, top + size / 2, HAlign::kCenter, VAlign::kMiddle, -M_PI / 2);
}

}  // namespace

std::vector<unsigned char> reliability_diagram_png(const std::vector<ReliabilityBin>& before, double ece_before,
                                                   const std::vector<ReliabilityBin>& after, double ece_after,
                                                   double temperature) {
  constexpr int kWidth = 900, kHeight = 470;
  constexpr double kSize = 340, kTop = 60, kLeft1 = 70, kLeft2 = 70 + kSize + 110;
  char t1[96], t2[96];
  std::snprintf(t1, sizeof t1, "uncalibrated (T = 1): ECE %.2f%%", 100 * ece_before);
  std::snprintf(t2, sizeof t2, "temperature T = %.3g: ECE %.2f%%", temperature, 100 * ece_after);
  return canvas::render_png(kWidth, kHeight, [&](cairo_t* cr) {
    draw_panel(cr, kLeft1, kTop, kSize, before, t1);
    draw_panel(cr, kLeft2, kTop, kSize, after, t2);
    using namespace canvas;
    set_font(cr, 11);
    set_color(cr, hex(0x555555));
    draw_text(cr, "bars: accuracy of the images in each of 15 confidence bins; red: their mean confidence; dashed: perfect calibration",
              kWidth / 2.0, kHeight - 14, HAlign::kCenter, VAlign::kBaseline);
  });
}

}  // namespace imagefit

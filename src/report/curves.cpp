#include "report/curves.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "report/canvas.h"

namespace imagefit {

using namespace canvas;

namespace {

constexpr int kWidth = 1200, kHeight = 480;
constexpr int kMaxMarkerEpochs = 60;  // beyond this, dots would hide the lines

const Rgb kTrainColor = hex(0x1f77b4);  // matplotlib's default blue/orange: what notebook users know
const Rgb kValColor = hex(0xff7f0e);
const Rgb kBestColor = hex(0x2ca02c);
const Rgb kPhaseColor = hex(0x6f6f6f);
const Rgb kTextColor = hex(0x222222);
const Rgb kAxisColor = hex(0x444444);
const Rgb kGridColor = hex(0xe4e4e4);
const Rgb kPhaseShade = hex(0xf3f1ea);

struct Series {
  std::string label;
  Rgb color;
  std::vector<double> y;
};

struct Plot {
  double x0, y0, x1, y1;  // plotting area in pixels
  double xmin, xmax, ymin, ymax;
  double px(double x) const { return x0 + (x - xmin) / (xmax - xmin) * (x1 - x0); }
  double py(double y) const { return y1 - (y - ymin) / (ymax - ymin) * (y1 - y0); }
};

// x positions: the recorded 1-based epoch numbers when they increase, else 1..N.
std::vector<double> epoch_numbers(const History& h) {
  std::vector<double> x(h.size());
  bool usable = true;
  for (size_t i = 0; i < h.size(); ++i) {
    if (h[i].epoch <= 0 || (i > 0 && h[i].epoch <= h[i - 1].epoch)) usable = false;
  }
  for (size_t i = 0; i < h.size(); ++i) x[i] = usable ? h[i].epoch : double(i + 1);
  return x;
}

// Integer epoch ticks: step 1, 2, 5, 10, 20, 25, 50, ... with at most `max_ticks` ticks.
std::vector<double> epoch_ticks(double first, double last, int max_ticks) {
  double step = 1;
  for (double mag = 1;; mag *= 10) {
    bool found = false;
    for (double m : {1.0, 2.0, 2.5, 5.0}) {
      double s = m * mag;
      if (s != std::floor(s)) continue;
      if ((last - first) / s + 1 <= max_ticks) {
        step = s;
        found = true;
        break;
      }
    }
    if (found) break;
  }
  std::vector<double> ticks;
  if (step >= 5) ticks.push_back(first);
  for (double v = std::ceil(first / step) * step; v <= last + 1e-9; v += step)
    if (ticks.empty() || v - ticks.back() >= step * 0.5) ticks.push_back(v);
  return ticks;
}

void draw_cross(cairo_t* cr, double x, double y, double r) {
  cairo_move_to(cr, x - r, y - r);
  cairo_line_to(cr, x + r, y + r);
  cairo_move_to(cr, x + r, y - r);
  cairo_line_to(cr, x - r, y + r);
  cairo_stroke(cr);
}

// A label on a white, slightly transparent box so it stays readable over grid lines and curves.
void draw_label_box(cairo_t* cr, const std::string& text, double x, double y, HAlign h, VAlign v, const Rgb& color,
                    double min_x, double max_x) {
  double w = text_width(cr, text);
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  double left = h == HAlign::kLeft ? x : h == HAlign::kCenter ? x - w / 2 : x - w;
  left = std::clamp(left, min_x + 3, std::max(min_x + 3, max_x - w - 3));
  double top = v == VAlign::kTop ? y : y - fe.ascent - fe.descent;
  cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
  cairo_rectangle(cr, left - 3, top - 1, w + 6, fe.ascent + fe.descent + 2);
  cairo_fill(cr);
  set_color(cr, color);
  draw_text(cr, text, left, top, HAlign::kLeft, VAlign::kTop);
}

struct LegendEntry {
  std::string label;
  std::function<void(cairo_t*, double x, double y)> swatch;  // draws a 24-px-wide sample centred on y
};

void draw_legend(cairo_t* cr, const std::vector<LegendEntry>& entries, double center_x, double y) {
  set_font(cr, 13);
  const double swatch = 24, gap_after_swatch = 6, gap_between = 18;
  double total = 0;
  for (const auto& e : entries) total += swatch + gap_after_swatch + text_width(cr, e.label) + gap_between;
  total -= gap_between;
  double x = center_x - total / 2;
  for (const auto& e : entries) {
    e.swatch(cr, x, y);
    set_color(cr, kTextColor);
    draw_text(cr, e.label, x + swatch + gap_after_swatch, y, HAlign::kLeft, VAlign::kMiddle);
    x += swatch + gap_after_swatch + text_width(cr, e.label) + gap_between;
  }
}

void draw_series(cairo_t* cr, const Plot& p, const std::vector<double>& x, const Series& s, bool markers) {
  set_color(cr, s.color);
  cairo_set_line_width(cr, 2.0);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  bool pen_down = false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(s.y[i])) {  // NaN/inf: a gap in the line
      pen_down = false;
      continue;
    }
    if (pen_down)
      cairo_line_to(cr, p.px(x[i]), p.py(s.y[i]));
    else
      cairo_move_to(cr, p.px(x[i]), p.py(s.y[i]));
    pen_down = true;
  }
  cairo_stroke(cr);
  if (markers) {
    for (size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      cairo_arc(cr, p.px(x[i]), p.py(s.y[i]), 3.2, 0, 2 * M_PI);
      cairo_fill(cr);
    }
  }
  cairo_set_line_width(cr, 2.0);
  for (size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(s.y[i])) draw_cross(cr, p.px(x[i]), p.y0 + 9, 4.5);
}

struct PanelSpec {
  std::string title, y_title;
  Series train, val;
  bool is_accuracy;
};

void draw_panel(cairo_t* cr, double left, double width, const PanelSpec& spec, const History& h,
                const std::vector<double>& x, int best) {
  const size_t n = h.size();
  Plot p;
  p.x0 = left + 82;
  p.x1 = left + width - 26;
  p.y0 = 108;
  p.y1 = kHeight - 64;

  // Axes ranges.
  if (n == 0) {
    p.xmin = 0.5, p.xmax = 1.5;
  } else {
    double span = x.back() - x.front();
    double pad = n == 1 ? 0.5 : std::max(0.4, span * 0.03);
    p.xmin = x.front() - pad, p.xmax = x.back() + pad;
  }
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  bool any_nan = false;
  for (const Series* s : {&spec.train, &spec.val}) {
    for (double v : s->y) {
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      } else {
        any_nan = true;
      }
    }
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  double range = std::max(hi - lo, std::max(std::abs(hi), 1.0) * 0.02);
  double pad_lo = lo - range * 0.04, pad_hi = hi + range * (any_nan ? 0.12 : 0.04);  // room for NaN crosses
  if (spec.is_accuracy && lo >= 0 && hi <= 1) pad_lo = std::max(pad_lo, 0.0), pad_hi = std::min(pad_hi, 1.0);
  if (!spec.is_accuracy && lo >= 0) pad_lo = std::max(pad_lo, 0.0);
  Ticks yt = nice_ticks(pad_lo, pad_hi, 7);
  if (spec.is_accuracy && lo >= 0 && hi <= 1) {
    yt.lo = std::max(yt.lo, 0.0);
    yt.hi = std::min(yt.hi, 1.0);
    // Headroom for NaN crosses when the axis is capped at 1.
    if (any_nan && hi > yt.hi - (yt.hi - yt.lo) * 0.06) yt.hi = hi + (yt.hi - yt.lo) * 0.1;
  }
  p.ymin = yt.lo, p.ymax = yt.hi;

  // Panel title and legend.
  const double center = (p.x0 + p.x1) / 2;
  set_color(cr, kTextColor);
  set_font(cr, 16, true);
  draw_text(cr, spec.title, center, 62, HAlign::kCenter, VAlign::kBaseline);

  bool markers = n <= size_t(kMaxMarkerEpochs);
  std::vector<LegendEntry> legend;
  for (const Series* s : {&spec.train, &spec.val}) {
    Rgb c = s->color;
    legend.push_back({s->label, [c, markers](cairo_t* cr, double x, double y) {
                        set_color(cr, c);
                        cairo_set_line_width(cr, 2.0);
                        cairo_move_to(cr, x, y);
                        cairo_line_to(cr, x + 24, y);
                        cairo_stroke(cr);
                        if (markers) {
                          cairo_arc(cr, x + 12, y, 3.2, 0, 2 * M_PI);
                          cairo_fill(cr);
                        }
                      }});
  }
  if (best >= 0) {
    legend.push_back({"best epoch", [](cairo_t* cr, double x, double y) {
                        set_color(cr, kBestColor);
                        cairo_set_line_width(cr, 2.0);
                        double dash[] = {5, 3};
                        cairo_set_dash(cr, dash, 2, 0);
                        cairo_move_to(cr, x + 12, y - 8);
                        cairo_line_to(cr, x + 12, y + 8);
                        cairo_stroke(cr);
                        cairo_set_dash(cr, nullptr, 0, 0);
                      }});
  }
  if (any_nan) {
    legend.push_back({"NaN", [](cairo_t* cr, double x, double y) {
                        set_color(cr, kTextColor);
                        cairo_set_line_width(cr, 2.0);
                        draw_cross(cr, x + 12, y, 4.5);
                      }});
  }
  draw_legend(cr, legend, center, 86);

  // Phase regions (two-phase transfer learning): shaded from the first epoch of each later phase.
  std::vector<size_t> phase_starts;
  for (size_t i = 1; i < n; ++i)
    if (h[i].phase != h[i - 1].phase) phase_starts.push_back(i);
  auto boundary = [&](size_t i) { return p.px((x[i - 1] + x[i]) / 2); };
  for (size_t k = 0; k < phase_starts.size(); ++k) {
    double a = boundary(phase_starts[k]);
    double b = k + 1 < phase_starts.size() ? boundary(phase_starts[k + 1]) : p.x1;
    if (k % 2 == 0) {
      set_color(cr, kPhaseShade);
      cairo_rectangle(cr, a, p.y0, b - a, p.y1 - p.y0);
      cairo_fill(cr);
    }
  }

  // Grid and tick labels.
  set_font(cr, 12);
  cairo_set_line_width(cr, 1.0);
  for (double v : yt.values) {
    if (v < p.ymin - 1e-9 || v > p.ymax + 1e-9) continue;
    double y = std::round(p.py(v)) + 0.5;
    set_color(cr, kGridColor);
    cairo_move_to(cr, p.x0, y);
    cairo_line_to(cr, p.x1, y);
    cairo_stroke(cr);
    set_color(cr, kTextColor);
    draw_text(cr, format_tick(v, yt.step), p.x0 - 8, y, HAlign::kRight, VAlign::kMiddle);
  }
  std::vector<double> xt = n ? epoch_ticks(x.front(), x.back(), 12) : std::vector<double>{1};
  for (double v : xt) {
    double xx = std::round(p.px(v)) + 0.5;
    set_color(cr, kGridColor);
    cairo_move_to(cr, xx, p.y0);
    cairo_line_to(cr, xx, p.y1);
    cairo_stroke(cr);
    set_color(cr, kAxisColor);
    cairo_move_to(cr, xx, p.y1);
    cairo_line_to(cr, xx, p.y1 + 5);
    cairo_stroke(cr);
    set_color(cr, kTextColor);
    draw_text(cr, format_tick(v, 1), xx, p.y1 + 9, HAlign::kCenter, VAlign::kTop);
  }

  // Axis titles.
  set_font(cr, 13);
  set_color(cr, kTextColor);
  draw_text(cr, "epoch", center, kHeight - 16, HAlign::kCenter, VAlign::kBaseline);
  draw_text(cr, spec.y_title, left + 22, (p.y0 + p.y1) / 2, HAlign::kCenter, VAlign::kMiddle, -M_PI / 2);

  // Phase boundaries and names.
  cairo_save(cr);
  cairo_rectangle(cr, p.x0, p.y0, p.x1 - p.x0, p.y1 - p.y0);
  cairo_clip(cr);
  if (!phase_starts.empty()) {
    double dots[] = {2, 3};
    for (size_t k = 0; k < phase_starts.size(); ++k) {
      double a = std::round(boundary(phase_starts[k])) + 0.5;
      set_color(cr, kPhaseColor);
      cairo_set_line_width(cr, 1.5);
      cairo_set_dash(cr, dots, 2, 0);
      cairo_move_to(cr, a, p.y0);
      cairo_line_to(cr, a, p.y1);
      cairo_stroke(cr);
      cairo_set_dash(cr, nullptr, 0, 0);
    }
  }

  // Best epoch: a dashed vertical line under the curves, and a ring on the validation point over them.
  if (best >= 0) {
    double bx = std::round(p.px(x[best])) + 0.5;
    set_color(cr, kBestColor);
    cairo_set_line_width(cr, 2.0);
    double dash[] = {6, 4};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_move_to(cr, bx, p.y0);
    cairo_line_to(cr, bx, p.y1);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
  }
  draw_series(cr, p, x, spec.train, markers);
  draw_series(cr, p, x, spec.val, markers);
  if (best >= 0 && std::isfinite(spec.val.y[best])) {
    set_color(cr, kBestColor);
    cairo_set_line_width(cr, 2.0);
    cairo_arc(cr, p.px(x[best]), p.py(spec.val.y[best]), 6.5, 0, 2 * M_PI);
    cairo_stroke(cr);
  }

  // Labels last, on white boxes over the lines. Phase names at the bottom of their regions.
  set_font(cr, 12, true);
  if (!phase_starts.empty()) {
    std::vector<double> starts{p.x0};
    for (size_t i : phase_starts) starts.push_back(boundary(i));
    for (size_t k = 0; k < starts.size(); ++k) {
      size_t first = k == 0 ? 0 : phase_starts[k - 1];
      std::string name = h[first].phase + (k == 0 ? "" : " \xE2\x86\x92");  // "fine-tune →"
      double end = k + 1 < starts.size() ? starts[k + 1] : p.x1;
      draw_label_box(cr, ellipsize(cr, name, std::max(20.0, end - starts[k] - 10)), starts[k] + 6, p.y1 - 6,
                     HAlign::kLeft, VAlign::kBottom, kPhaseColor, starts[k], end);
    }
  }
  if (best >= 0) {
    // "best: epoch N" beside the line, at the top or the bottom of the plot: wherever fewer data
    // points would hide under it.
    double bx = std::round(p.px(x[best])) + 0.5;
    std::string label = "best: epoch " + format_tick(x[best], 1);
    bool right_side = bx < (p.x0 + p.x1) / 2;
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double w = text_width(cr, label), h_text = fe.ascent + fe.descent;
    double left = right_side ? bx + 10 : bx - 10 - w;
    double top_y = p.y0 + 5, bottom_y = p.y1 - (phase_starts.empty() ? 6 : 30) - h_text;
    auto points_under = [&](double y) {
      int count = 0;
      for (const Series* s : {&spec.train, &spec.val})
        for (size_t i = 0; i < n; ++i) {
          if (!std::isfinite(s->y[i])) continue;
          double px = p.px(x[i]), py = p.py(s->y[i]);
          count += px > left - 8 && px < left + w + 8 && py > y - 8 && py < y + h_text + 8;
        }
      return count;
    };
    bool at_top = points_under(top_y) <= points_under(bottom_y);
    draw_label_box(cr, label, left, at_top ? top_y : bottom_y, HAlign::kLeft, VAlign::kTop, kBestColor, p.x0, p.x1);
  }
  if (n == 0) {
    set_font(cr, 14);
    set_color(cr, kPhaseColor);
    draw_text(cr, "no epochs recorded", center, (p.y0 + p.y1) / 2, HAlign::kCenter, VAlign::kMiddle);
  }
  cairo_restore(cr);

  // Frame last, over the shading.
  set_color(cr, kAxisColor);
  stroke_rect(cr, std::round(p.x0) + 0.5, std::round(p.y0) + 0.5, std::round(p.x1 - p.x0),
              std::round(p.y1 - p.y0), 1.0);
}

void draw_curves(cairo_t* cr, const History& h, const std::string& title) {
  std::vector<double> x = epoch_numbers(h);
  int best = best_finite_epoch_index(h);
  PanelSpec acc{"Training and validation accuracy", "accuracy", {"training", kTrainColor, {}},
                {"validation", kValColor, {}}, true};
  PanelSpec loss{"Training and validation loss", "loss", {"training", kTrainColor, {}}, {"validation", kValColor, {}},
                 false};
  for (const auto& r : h) {
    acc.train.y.push_back(r.train_accuracy);
    acc.val.y.push_back(r.val_accuracy);
    loss.train.y.push_back(r.train_loss);
    loss.val.y.push_back(r.val_loss);
  }
  set_color(cr, kTextColor);
  set_font(cr, 20, true);
  draw_text(cr, ellipsize(cr, title, kWidth - 40), kWidth / 2.0, 30, HAlign::kCenter, VAlign::kBaseline);
  draw_panel(cr, 0, kWidth / 2.0, acc, h, x, best);
  draw_panel(cr, kWidth / 2.0, kWidth / 2.0, loss, h, x, best);
}

}  // namespace

int best_finite_epoch_index(const History& h) {
  int best = -1;
  for (size_t i = 0; i < h.size(); ++i)
    if (std::isfinite(h[i].val_loss) && (best < 0 || h[i].val_loss < h[best].val_loss)) best = int(i);
  return best;
}

std::vector<unsigned char> curves_png(const History& history, const std::string& title) {
  return render_png(kWidth, kHeight, [&](cairo_t* cr) { draw_curves(cr, history, title); });
}

std::string curves_svg(const History& history, const std::string& title) {
  return render_svg(kWidth, kHeight, [&](cairo_t* cr) { draw_curves(cr, history, title); });
}

void write_curves_png(const History& history, const std::string& title, const std::string& path) {
  write_file(path, curves_png(history, title));
}

void write_curves_svg(const History& history, const std::string& title, const std::string& path) {
  write_file(path, curves_svg(history, title));
}

}  // namespace imagefit

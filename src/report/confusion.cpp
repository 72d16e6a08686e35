#include "report/confusion.h"

#include <algorithm>
#include <cmath>

#include "report/canvas.h"

namespace imagefit {

using namespace canvas;

namespace {

const Rgb kTextColor = hex(0x222222);
const Rgb kAxisColor = hex(0x555555);
constexpr double kMaxLabelWidth = 190;  // longer class names are shortened with "…"
constexpr double kPad = 20;

// Matplotlib's "Blues", sampled: light enough at 0 to read as empty, dark enough at 1 for white text.
const uint32_t kBlues[] = {0xf7fbff, 0xdeebf7, 0xc6dbef, 0x9ecae1, 0x6baed6, 0x4292c6, 0x2171b5, 0x08519c, 0x08306b};

struct Fonts {
  double label, count, axis_title = 14, title = 18;
};

Fonts fonts_for(double cell) {
  Fonts f;
  f.label = std::clamp(cell * 0.42, 10.0, 14.0);
  f.count = std::clamp(cell * 0.34, 7.0, 18.0);
  return f;
}

double cell_size_for(size_t n) { return std::clamp(std::floor(600.0 / double(n)), 22.0, 120.0); }

struct Geometry {
  ConfusionLayout layout;
  Fonts fonts;
  std::vector<std::string> labels;  // shortened class names
  double label_width = 0;           // widest shortened name
  double x_label_height = 0;        // vertical room taken by the predicted-class labels
  double colorbar_left = 0;
};

Geometry geometry(cairo_t* cr, const std::vector<std::string>& classes, const std::string& title) {
  Geometry g;
  const size_t n = std::max<size_t>(classes.size(), 1);
  double cell = cell_size_for(n);
  g.fonts = fonts_for(cell);
  set_font(cr, g.fonts.label);
  for (const auto& c : classes) {
    g.labels.push_back(ellipsize(cr, c, kMaxLabelWidth));
    g.label_width = std::max(g.label_width, text_width(cr, g.labels.back()));
  }
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  double line = fe.ascent + fe.descent;
  auto& L = g.layout;
  L.cell = cell;
  L.rotated_labels = g.label_width > cell - 6;
  // Rotated by 45°: a label of width w needs w·sin45 + line·cos45 vertically.
  g.x_label_height = L.rotated_labels ? g.label_width * M_SQRT1_2 + line * M_SQRT1_2 + 4 : line + 4;

  set_font(cr, g.fonts.axis_title);
  double axis_line = 22;
  L.grid_left = std::round(kPad + axis_line + 8 + g.label_width + 10);
  L.grid_top = 62;
  double grid = cell * n;
  g.colorbar_left = L.grid_left + grid + 24;
  set_font(cr, 11);
  double colorbar_right = g.colorbar_left + 16 + 6 + text_width(cr, "0000000") + kPad;
  // Rotated labels also reach left of the first column by up to their width·cos45.
  double min_left = L.rotated_labels ? g.label_width * M_SQRT1_2 + kPad - cell / 2 : 0;
  if (L.grid_left < min_left) {
    double shift = std::ceil(min_left - L.grid_left);
    L.grid_left += shift;
    g.colorbar_left += shift;
    colorbar_right += shift;
  }
  set_font(cr, g.fonts.title, true);
  double title_w = text_width(cr, title) + 2 * kPad;
  L.width = int(std::ceil(std::max(colorbar_right, title_w)));
  L.height = int(std::ceil(L.grid_top + grid + 8 + g.x_label_height + 10 + axis_line + kPad));
  return g;
}

void draw_confusion(cairo_t* cr, const std::vector<std::string>& classes, const ConfusionMatrix& m,
                    const std::string& title, const Geometry& g) {
  const auto& L = g.layout;
  const size_t n = classes.size();
  const double grid = L.cell * n;
  int64_t max_count = 0;
  for (const auto& row : m)
    for (int64_t v : row) max_count = std::max(max_count, v);

  set_color(cr, kTextColor);
  set_font(cr, g.fonts.title, true);
  draw_text(cr, title, L.width / 2.0, 36, HAlign::kCenter, VAlign::kBaseline);

  // Cells and counts.
  for (size_t r = 0; r < n; ++r) {
    for (size_t c = 0; c < n; ++c) {
      double t = max_count ? double(m[r][c]) / double(max_count) : 0.0;
      double x = L.grid_left + c * L.cell, y = L.grid_top + r * L.cell;
      set_color(cr, hex(heat_color(t)));
      cairo_rectangle(cr, x, y, L.cell, L.cell);
      cairo_fill(cr);
      std::string text = std::to_string(m[r][c]);
      double size = g.fonts.count;
      set_font(cr, size, r == c);
      double w = text_width(cr, text);
      if (w > L.cell - 4) {
        size *= (L.cell - 4) / w;
        set_font(cr, size, r == c);
      }
      if (size < 6) continue;  // unreadable: leave the colour to speak
      set_color(cr, heat_text_is_light(t) ? hex(0xffffff) : kTextColor);
      draw_text(cr, text, x + L.cell / 2, y + L.cell / 2, HAlign::kCenter, VAlign::kMiddle);
    }
  }
  // Thin white separators keep neighbouring cells of similar colour apart.
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_set_line_width(cr, 1.0);
  for (size_t k = 1; k < n; ++k) {
    double p = std::round(L.grid_left + k * L.cell) + 0.5;
    cairo_move_to(cr, p, L.grid_top);
    cairo_line_to(cr, p, L.grid_top + grid);
    double q = std::round(L.grid_top + k * L.cell) + 0.5;
    cairo_move_to(cr, L.grid_left, q);
    cairo_line_to(cr, L.grid_left + grid, q);
  }
  cairo_stroke(cr);
  set_color(cr, kAxisColor);
  stroke_rect(cr, std::round(L.grid_left) - 0.5, std::round(L.grid_top) - 0.5, std::round(grid) + 1,
              std::round(grid) + 1, 1.0);

  // Class names: true classes left of the rows, predicted classes under the columns.
  set_font(cr, g.fonts.label);
  set_color(cr, kTextColor);
  for (size_t k = 0; k < n; ++k) {
    double center = L.grid_top + (k + 0.5) * L.cell;
    draw_text(cr, g.labels[k], L.grid_left - 8, center, HAlign::kRight, VAlign::kMiddle);
  }
  double below = L.grid_top + grid + 6;
  for (size_t k = 0; k < n; ++k) {
    double center = L.grid_left + (k + 0.5) * L.cell;
    if (L.rotated_labels)
      draw_text(cr, g.labels[k], center + 4, below + 2, HAlign::kRight, VAlign::kTop, -M_PI / 4);
    else
      draw_text(cr, g.labels[k], center, below, HAlign::kCenter, VAlign::kTop);
  }

  // Axis titles.
  set_font(cr, g.fonts.axis_title, true);
  set_color(cr, kTextColor);
  double x_title_y = below + g.x_label_height + 10;
  draw_text(cr, "predicted", L.grid_left + grid / 2, x_title_y, HAlign::kCenter, VAlign::kTop);
  draw_text(cr, "true", kPad + 8, L.grid_top + grid / 2, HAlign::kCenter, VAlign::kMiddle, -M_PI / 2);

  // Colour bar: 0 at the bottom, the largest count at the top.
  const double bar_w = 16, bar_x = g.colorbar_left, bar_top = L.grid_top, bar_h = grid;
  cairo_pattern_t* gradient = cairo_pattern_create_linear(0, bar_top + bar_h, 0, bar_top);
  const int stops = int(sizeof(kBlues) / sizeof(kBlues[0]));
  for (int i = 0; i < stops; ++i) {
    Rgb c = hex(kBlues[i]);
    cairo_pattern_add_color_stop_rgb(gradient, double(i) / (stops - 1), c.r, c.g, c.b);
  }
  cairo_rectangle(cr, bar_x, bar_top, bar_w, bar_h);
  cairo_set_source(cr, gradient);
  cairo_fill(cr);
  cairo_pattern_destroy(gradient);
  set_color(cr, kAxisColor);
  stroke_rect(cr, std::round(bar_x) - 0.5, std::round(bar_top) - 0.5, bar_w + 1, std::round(bar_h) + 1, 1.0);
  set_font(cr, 11);
  set_color(cr, kTextColor);
  std::vector<int64_t> bar_ticks{0};
  if (max_count > 0) {
    Ticks t = nice_ticks(0, double(max_count), std::max(2, std::min(6, int(bar_h / 40))));
    for (double v : t.values)
      if (v > 0 && v < max_count && v == std::floor(v)) bar_ticks.push_back(int64_t(v));
    bar_ticks.push_back(max_count);
  }
  for (size_t i = 0; i < bar_ticks.size(); ++i) {
    double y = bar_top + bar_h - (max_count ? double(bar_ticks[i]) / max_count : 0) * bar_h;
    // Drop an intermediate tick that would collide with the top one.
    if (i + 1 == bar_ticks.size() - 1 && bar_ticks.size() > 2 && double(max_count - bar_ticks[i]) / max_count * bar_h < 18)
      continue;
    set_color(cr, kAxisColor);
    cairo_move_to(cr, bar_x + bar_w, std::round(y) + 0.5);
    cairo_line_to(cr, bar_x + bar_w + 4, std::round(y) + 0.5);
    cairo_set_line_width(cr, 1.0);
    cairo_stroke(cr);
    set_color(cr, kTextColor);
    draw_text(cr, std::to_string(bar_ticks[i]), bar_x + bar_w + 6, y, HAlign::kLeft, VAlign::kMiddle);
  }
}

template <typename Render>
auto render(const std::vector<std::string>& classes, const ConfusionMatrix& matrix, const std::string& title,
            Render render_fn) {
  check_confusion_matrix(classes, matrix);
  Scratch scratch;
  Geometry g = geometry(scratch.cr(), classes, title);
  return render_fn(g.layout.width, g.layout.height, [&](cairo_t* cr) { draw_confusion(cr, classes, matrix, title, g); });
}

}  // namespace

uint32_t heat_color(double intensity) {
  double t = std::clamp(std::isfinite(intensity) ? intensity : 0.0, 0.0, 1.0);
  const int last = int(sizeof(kBlues) / sizeof(kBlues[0])) - 1;
  double pos = t * last;
  int i = std::min(int(pos), last - 1);
  double f = pos - i;
  uint32_t a = kBlues[i], b = kBlues[i + 1];
  uint32_t out = 0;
  for (int shift : {16, 8, 0}) {
    double ca = (a >> shift) & 0xff, cb = (b >> shift) & 0xff;
    out |= uint32_t(std::lround(ca + (cb - ca) * f)) << shift;
  }
  return out;
}

bool heat_text_is_light(double intensity) {
  uint32_t c = heat_color(intensity);
  double luminance = (0.2126 * ((c >> 16) & 0xff) + 0.7152 * ((c >> 8) & 0xff) + 0.0722 * (c & 0xff)) / 255.0;
  return luminance < 0.55;
}

ConfusionLayout confusion_layout(const std::vector<std::string>& classes, const std::string& title) {
  Scratch scratch;
  return geometry(scratch.cr(), classes, title).layout;
}

std::vector<unsigned char> confusion_png(const std::vector<std::string>& classes, const ConfusionMatrix& matrix,
                                         const std::string& title) {
  return render(classes, matrix, title, render_png);
}

std::string confusion_svg(const std::vector<std::string>& classes, const ConfusionMatrix& matrix,
                          const std::string& title) {
  return render(classes, matrix, title, render_svg);
}

void write_confusion_png(const std::vector<std::string>& classes, const ConfusionMatrix& matrix,
                         const std::string& title, const std::string& path) {
  write_file(path, confusion_png(classes, matrix, title));
}

}  // namespace imagefit

#pragma once
// Cairo drawing helpers shared by the report pictures (curves, confusion matrix, image grids):
// rendering to PNG/SVG bytes, atomic file output, aligned/rotated text and "nice" axis ticks.
// Internal to src/report: the public headers (curves.h, ...) do not expose Cairo.
#include <cairo.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace imagefit::canvas {

struct Rgb {
  double r = 0, g = 0, b = 0;
};
// 0xRRGGBB → Rgb.
Rgb hex(uint32_t rgb);
void set_color(cairo_t* cr, const Rgb& c, double alpha = 1.0);

using DrawFn = std::function<void(cairo_t*)>;

// Renders `draw` on a white width×height canvas and returns the encoded picture.
std::vector<unsigned char> render_png(int width, int height, const DrawFn& draw);
std::string render_svg(int width, int height, const DrawFn& draw);

// Writes bytes to `path` atomically (temporary file + rename). Any failure becomes an Error that
// names the path; no partial file is left behind.
void write_file(const std::string& path, const void* data, size_t size);
inline void write_file(const std::string& path, const std::vector<unsigned char>& bytes) {
  write_file(path, bytes.data(), bytes.size());
}
inline void write_file(const std::string& path, const std::string& bytes) {
  write_file(path, bytes.data(), bytes.size());
}

// A Cairo context on a tiny scratch surface, for measuring text before the canvas size is known.
class Scratch {
 public:
  Scratch();
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  cairo_t* cr() const { return cr_; }

 private:
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

enum class HAlign { kLeft, kCenter, kRight };
enum class VAlign { kTop, kMiddle, kBaseline, kBottom };

// Sans-serif (DejaVu Sans where installed) at `size` pixels.
void set_font(cairo_t* cr, double size, bool bold = false);
double text_width(cairo_t* cr, const std::string& text);
// Draws text anchored at (x, y); `angle` (radians, clockwise) rotates it around the anchor.
void draw_text(cairo_t* cr, const std::string& text, double x, double y, HAlign h = HAlign::kLeft,
               VAlign v = VAlign::kBaseline, double angle = 0);
// `text`, shortened with "…" (at a UTF-8 character boundary) to fit `max_width` in the current font.
std::string ellipsize(cairo_t* cr, const std::string& text, double max_width);

// Axis ticks: a step of 1, 2, 2.5 or 5 × 10^k giving at most `max_ticks` ticks over [lo, hi];
// lo/hi are widened to multiples of the step.
struct Ticks {
  double lo = 0, hi = 1, step = 1;
  std::vector<double> values;
};
Ticks nice_ticks(double lo, double hi, int max_ticks);
// A tick label with just enough decimals for `step` ("0.25", "10", "1e-05").
std::string format_tick(double value, double step);

// Pixel-aligned rectangle outline / fill helpers.
void stroke_rect(cairo_t* cr, double x, double y, double w, double h, double line_width);

}  // namespace imagefit::canvas

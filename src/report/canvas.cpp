#include "report/canvas.h"

#include <cairo-svg.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>

#include "core/error.h"
#include "core/fs.h"

namespace imagefit::canvas {

Rgb hex(uint32_t rgb) {
  return {((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0, (rgb & 0xff) / 255.0};
}

void set_color(cairo_t* cr, const Rgb& c, double alpha) {
  if (alpha >= 1.0)
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
  else
    cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

namespace {

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  auto* out = static_cast<std::vector<unsigned char>*>(closure);
  out->insert(out->end(), data, data + length);
  return CAIRO_STATUS_SUCCESS;
}

cairo_status_t append_chars(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void check(cairo_status_t status, const char* what) {
  if (status != CAIRO_STATUS_SUCCESS)
    throw Error(std::string("drawing failed (") + what + "): " + cairo_status_to_string(status));
}

void paint_white_and_draw(cairo_surface_t* surface, const DrawFn& draw) {
  cairo_t* cr = cairo_create(surface);
  try {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    draw(cr);
  } catch (...) {
    cairo_destroy(cr);
    throw;
  }
  cairo_status_t status = cairo_status(cr);
  cairo_destroy(cr);
  check(status, "context");
}

}  // namespace

std::vector<unsigned char> render_png(int width, int height, const DrawFn& draw) {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, std::max(width, 1), std::max(height, 1));
  std::vector<unsigned char> png;
  try {
    check(cairo_surface_status(surface), "surface");
    paint_white_and_draw(surface, draw);
    cairo_surface_flush(surface);
    check(cairo_surface_write_to_png_stream(surface, append_bytes, &png), "PNG encoding");
  } catch (...) {
    cairo_surface_destroy(surface);
    throw;
  }
  cairo_surface_destroy(surface);
  return png;
}

std::string render_svg(int width, int height, const DrawFn& draw) {
  std::string svg;
  cairo_surface_t* surface = cairo_svg_surface_create_for_stream(append_chars, &svg, width, height);
  try {
    check(cairo_surface_status(surface), "SVG surface");
    cairo_svg_surface_set_document_unit(surface, CAIRO_SVG_UNIT_PX);  // default "pt" would scale by 4/3 in browsers
    paint_white_and_draw(surface, draw);
    cairo_surface_finish(surface);  // the SVG is only complete (and streamed) once finished
    check(cairo_surface_status(surface), "SVG encoding");
  } catch (...) {
    cairo_surface_destroy(surface);
    throw;
  }
  cairo_surface_destroy(surface);
  return svg;
}

void write_file(const std::string& path, const void* data, size_t size) {
  try {
    atomic_write(path, [&](std::ostream& out) { out.write(static_cast<const char*>(data), std::streamsize(size)); });
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // std::filesystem errors (rename onto a directory, ...) become a user-facing Error naming the file.
    throw Error("cannot write " + path + ": " + e.what());
  }
}

Scratch::Scratch()
    : surface_(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 4, 4)), cr_(cairo_create(surface_)) {}

Scratch::~Scratch() {
  cairo_destroy(cr_);
  cairo_surface_destroy(surface_);
}

void set_font(cairo_t* cr, double size, bool bold) {
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double text_width(cairo_t* cr, const std::string& text) {
  cairo_text_extents_t te;
  cairo_text_extents(cr, text.c_str(), &te);
  return te.x_advance;
}

void draw_text(cairo_t* cr, const std::string& text, double x, double y, HAlign h, VAlign v, double angle) {
  if (text.empty()) return;
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  double w = text_width(cr, text);
  double dx = h == HAlign::kLeft ? 0 : h == HAlign::kCenter ? -w / 2 : -w;
  double dy = 0;
  switch (v) {
    case VAlign::kTop: dy = fe.ascent; break;
    case VAlign::kMiddle: dy = (fe.ascent - fe.descent) / 2; break;
    case VAlign::kBaseline: dy = 0; break;
    case VAlign::kBottom: dy = -fe.descent; break;
  }
  cairo_save(cr);
  cairo_translate(cr, x, y);
  if (angle != 0) cairo_rotate(cr, angle);
  cairo_move_to(cr, dx, dy);
  cairo_show_text(cr, text.c_str());
  cairo_new_path(cr);
  cairo_restore(cr);
}

std::string ellipsize(cairo_t* cr, const std::string& text, double max_width) {
  if (text_width(cr, text) <= max_width) return text;
  static const std::string kEllipsis = "\xE2\x80\xA6";
  std::string cut = text;
  while (!cut.empty()) {
    // Drop one UTF-8 character (continuation bytes are 10xxxxxx).
    size_t n = cut.size() - 1;
    while (n > 0 && (static_cast<unsigned char>(cut[n]) & 0xC0) == 0x80) --n;
    cut.resize(n);
    if (text_width(cr, cut + kEllipsis) <= max_width) return cut + kEllipsis;
  }
  return kEllipsis;
}

Ticks nice_ticks(double lo, double hi, int max_ticks) {
  Ticks t;
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo < 1e-12) {
    double pad = std::max(std::abs(lo) * 0.05, 1e-3);
    lo -= pad;
    hi += pad;
  }
  max_ticks = std::max(max_ticks, 2);
  double rough = (hi - lo) / (max_ticks - 1);
  double mag = std::pow(10.0, std::floor(std::log10(rough)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * mag >= rough * (1 - 1e-9)) {
      step = m * mag;
      break;
    }
  }
  // Widening to multiples may add a tick; then take the next larger step.
  for (int guard = 0; guard < 8; ++guard) {
    double a = std::floor(lo / step + 1e-9) * step, b = std::ceil(hi / step - 1e-9) * step;
    int n = int(std::lround((b - a) / step)) + 1;
    if (n <= max_ticks || guard == 7) {
      t.lo = a, t.hi = b, t.step = step;
      break;
    }
    double e = std::pow(10.0, std::floor(std::log10(step)));
    double m = step / e;
    step = (m < 1.5 ? 2 : m < 2.2 ? 2.5 : m < 3 ? 5 : 10) * e;
  }
  for (int i = 0;; ++i) {
    double v = t.lo + i * t.step;
    if (v > t.hi + t.step * 1e-6) break;
    if (std::abs(v) < t.step * 1e-9) v = 0;  // avoid "-0"
    t.values.push_back(v);
  }
  return t;
}

std::string format_tick(double value, double step) {
  char buf[64];
  if (step >= 1 && std::abs(value) < 1e6) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
  } else if (step >= 1e-4) {
    int decimals = std::max(0, int(std::ceil(-std::log10(step) - 1e-9)));
    // 2.5 × 10^-k needs one more decimal than 10^-k.
    double scaled = step * std::pow(10.0, decimals);
    if (std::abs(scaled - std::round(scaled)) > 1e-6) ++decimals;
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  } else {
    std::snprintf(buf, sizeof buf, "%.2g", value);
  }
  return buf;
}

void stroke_rect(cairo_t* cr, double x, double y, double w, double h, double line_width) {
  cairo_set_line_width(cr, line_width);
  cairo_rectangle(cr, x, y, w, h);
  cairo_stroke(cr);
}

}  // namespace imagefit::canvas

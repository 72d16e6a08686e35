#include "report/image_grid.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "report/canvas.h"

namespace imagefit {

using namespace canvas;

namespace {

const Rgb kTextColor = hex(0x222222);
const Rgb kSubtleColor = hex(0x666666);
const Rgb kMistakeColor = hex(0xd62728);
const Rgb kLetterbox = hex(0xeeeeee);
constexpr int kMargin = 16, kGap = 12, kTitleHeight = 40;
constexpr double kCaptionFont = 13, kSubcaptionFont = 11.5, kLineHeight = 17;
constexpr int kMaxCaptionLines = 2;

// 8-bit RGB from what callers may hand us: gray, RGB, RGBA; 8-bit, 16-bit, or float in [0, 1].
cv::Mat to_display_rgb8(const cv::Mat& in) {
  if (in.empty()) return {};
  cv::Mat m = in;
  if (m.depth() != CV_8U) {
    double scale = m.depth() == CV_32F || m.depth() == CV_64F ? 255.0 : m.depth() == CV_16U ? 1.0 / 257 : 1.0;
    m.convertTo(m, CV_MAKETYPE(CV_8U, m.channels()), scale);
  }
  cv::Mat rgb;
  switch (m.channels()) {
    case 1: cv::cvtColor(m, rgb, cv::COLOR_GRAY2RGB); break;
    case 3: rgb = m; break;
    case 4: cv::cvtColor(m, rgb, cv::COLOR_RGBA2RGB); break;
    default: throw Error("image grid: unsupported image with " + std::to_string(m.channels()) + " channels");
  }
  return rgb;
}

cv::Mat fit_within(const cv::Mat& rgb, int max_w, int max_h) {
  double scale = std::min(double(max_w) / rgb.cols, double(max_h) / rgb.rows);
  int w = std::clamp(int(std::lround(rgb.cols * scale)), 1, max_w);
  int h = std::clamp(int(std::lround(rgb.rows * scale)), 1, max_h);
  if (w == rgb.cols && h == rgb.rows) return rgb;
  cv::Mat out;
  cv::resize(rgb, out, cv::Size(w, h), 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

// Up to `max_lines` lines of `text` that fit `width` in the current font, broken at spaces; the last
// line is shortened with "…" if the text does not fit.
std::vector<std::string> wrap(cairo_t* cr, const std::string& text, double width, int max_lines) {
  std::vector<std::string> lines;
  // "true: cat / pred: dog 0.91" reads best split at its slash.
  size_t slash = text.find(" / ");
  if (max_lines >= 2 && slash != std::string::npos && text_width(cr, text) > width) {
    std::string a = text.substr(0, slash), b = text.substr(slash + 3);
    if (text_width(cr, a) <= width && text_width(cr, b) <= width) return {a, b};
  }
  std::string rest = text;
  while (!rest.empty() && int(lines.size()) < max_lines) {
    if (int(lines.size()) == max_lines - 1 || text_width(cr, rest) <= width) {
      lines.push_back(ellipsize(cr, rest, width));
      break;
    }
    // The longest prefix ending before a space that fits.
    size_t cut = std::string::npos;
    for (size_t pos = rest.find(' '); pos != std::string::npos; pos = rest.find(' ', pos + 1)) {
      if (text_width(cr, rest.substr(0, pos)) > width) break;
      cut = pos;
    }
    if (cut == std::string::npos) {  // one long word: shorten it
      lines.push_back(ellipsize(cr, rest, width));
      break;
    }
    lines.push_back(rest.substr(0, cut));
    rest = rest.substr(cut + 1);
  }
  return lines;
}

int caption_lines_needed(const std::vector<GridCell>& cells, int cell_size) {
  Scratch scratch;
  int lines = 0;
  for (const auto& c : cells) {
    if (c.caption.empty()) continue;
    set_font(scratch.cr(), kCaptionFont, c.highlight);
    lines = std::max(lines, int(wrap(scratch.cr(), c.caption, cell_size, kMaxCaptionLines).size()));
  }
  return lines;
}

// Paints an 8-bit RGB image with its top-left corner at integer (x, y), pixel for pixel.
void paint_rgb(cairo_t* cr, const cv::Mat& rgb, int x, int y) {
  cairo_surface_t* img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, rgb.cols, rgb.rows);
  if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(img);
    throw Error("image grid: cannot allocate a thumbnail");
  }
  cairo_surface_flush(img);
  unsigned char* data = cairo_image_surface_get_data(img);
  int stride = cairo_image_surface_get_stride(img);
  for (int r = 0; r < rgb.rows; ++r) {
    const cv::Vec3b* src = rgb.ptr<cv::Vec3b>(r);
    auto* dst = reinterpret_cast<uint32_t*>(data + size_t(r) * stride);
    for (int c = 0; c < rgb.cols; ++c)
      dst[c] = 0xff000000u | (uint32_t(src[c][0]) << 16) | (uint32_t(src[c][1]) << 8) | src[c][2];
  }
  cairo_surface_mark_dirty(img);
  cairo_save(cr);
  cairo_set_source_surface(cr, img, x, y);
  cairo_rectangle(cr, x, y, rgb.cols, rgb.rows);
  cairo_fill(cr);
  cairo_restore(cr);
  cairo_surface_destroy(img);
}

void check_args(int columns, int cell_size) {
  if (columns < 1) throw Error("image grid: columns must be at least 1 (got " + std::to_string(columns) + ")");
  if (cell_size < 16) throw Error("image grid: cell size must be at least 16 pixels (got " + std::to_string(cell_size) + ")");
}

void draw_grid(cairo_t* cr, const std::vector<GridCell>& cells, const GridLayout& L, const std::string& title) {
  if (!title.empty()) {
    set_color(cr, kTextColor);
    set_font(cr, 18, true);
    draw_text(cr, ellipsize(cr, title, L.width - 2 * kMargin), L.width / 2.0, kMargin + 20, HAlign::kCenter,
              VAlign::kBaseline);
  }
  if (cells.empty()) {
    set_color(cr, kSubtleColor);
    set_font(cr, 13);
    draw_text(cr, "no images", L.width / 2.0, L.top + 20, HAlign::kCenter, VAlign::kMiddle);
    return;
  }
  for (size_t i = 0; i < cells.size(); ++i) {
    const GridCell& cell = cells[i];
    int x = L.left + int(i % L.columns) * (L.cell_width + L.gap);
    int y = L.top + int(i / L.columns) * (L.cell_height + L.gap);
    set_color(cr, kLetterbox);
    cairo_rectangle(cr, x, y, L.cell_size, L.cell_size);
    cairo_fill(cr);
    cv::Mat rgb = to_display_rgb8(cell.rgb);
    if (rgb.empty()) {
      set_color(cr, kSubtleColor);
      set_font(cr, 12);
      draw_text(cr, "(no image)", x + L.cell_size / 2.0, y + L.cell_size / 2.0, HAlign::kCenter, VAlign::kMiddle);
    } else {
      cv::Mat thumb = fit_within(rgb, L.cell_size, L.cell_size);
      paint_rgb(cr, thumb, x + (L.cell_size - thumb.cols) / 2, y + (L.cell_size - thumb.rows) / 2);
    }
    if (cell.highlight) {
      set_color(cr, kMistakeColor);
      stroke_rect(cr, x - 1.5, y - 1.5, L.cell_size + 3, L.cell_size + 3, 3.0);
    }
    double text_y = y + L.cell_size + 6;
    double cx = x + L.cell_size / 2.0;
    if (!cell.caption.empty()) {
      set_font(cr, kCaptionFont, cell.highlight);
      set_color(cr, cell.highlight ? kMistakeColor : kTextColor);
      auto lines = wrap(cr, cell.caption, L.cell_size, L.caption_lines);
      for (size_t k = 0; k < lines.size(); ++k)
        draw_text(cr, lines[k], cx, text_y + k * kLineHeight, HAlign::kCenter, VAlign::kTop);
    }
    if (!cell.subcaption.empty()) {
      set_font(cr, kSubcaptionFont);
      set_color(cr, kSubtleColor);
      draw_text(cr, ellipsize(cr, cell.subcaption, L.cell_size), cx, text_y + L.caption_lines * kLineHeight,
                HAlign::kCenter, VAlign::kTop);
    }
  }
}

cv::Mat shrink_for_encoding(const cv::Mat& rgb_in, int max_side) {
  cv::Mat rgb = to_display_rgb8(rgb_in);
  if (rgb.empty()) throw Error("cannot encode an empty image");
  if (max_side > 0 && std::max(rgb.cols, rgb.rows) > max_side) rgb = fit_within(rgb, max_side, max_side);
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

}  // namespace

GridLayout image_grid_layout(const std::vector<GridCell>& cells, int columns, int cell_size, const std::string& title) {
  check_args(columns, cell_size);
  GridLayout L;
  L.cell_size = cell_size;
  L.gap = kGap;
  L.columns = cells.empty() ? 1 : std::min<int>(columns, int(cells.size()));
  L.rows = cells.empty() ? 0 : int((cells.size() + L.columns - 1) / L.columns);
  bool any_subcaption = false;
  for (const auto& c : cells) any_subcaption |= !c.subcaption.empty();
  L.caption_lines = caption_lines_needed(cells, cell_size);
  int caption_lines = L.caption_lines + (any_subcaption ? 1 : 0);
  L.cell_width = cell_size;
  L.cell_height = cell_size + (caption_lines ? 6 + int(std::ceil(caption_lines * kLineHeight)) : 0);
  L.left = kMargin;
  L.top = kMargin + (title.empty() ? 0 : kTitleHeight);
  int grid_w = L.columns * L.cell_width + (L.columns - 1) * L.gap;
  int grid_h = L.rows ? L.rows * L.cell_height + (L.rows - 1) * L.gap : 40;
  L.width = grid_w + 2 * kMargin;
  if (!title.empty()) {
    // Room for the title, up to a sensible width (longer titles are shortened).
    Scratch scratch;
    set_font(scratch.cr(), 18, true);
    int title_w = int(std::ceil(text_width(scratch.cr(), title))) + 2 * kMargin;
    if (title_w > L.width) {
      int wanted = std::min(title_w, std::max(L.width, 900));
      L.left += (wanted - L.width) / 2;
      L.width = wanted;
    }
  }
  L.height = L.top + grid_h + kMargin;
  return L;
}

std::vector<unsigned char> image_grid_png(const std::vector<GridCell>& cells, int columns, int cell_size,
                                          const std::string& title) {
  GridLayout L = image_grid_layout(cells, columns, cell_size, title);
  return render_png(L.width, L.height, [&](cairo_t* cr) { draw_grid(cr, cells, L, title); });
}

void write_image_grid_png(const std::vector<GridCell>& cells, int columns, int cell_size, const std::string& title,
                          const std::string& path) {
  write_file(path, image_grid_png(cells, columns, cell_size, title));
}

std::vector<unsigned char> encode_rgb_png(const cv::Mat& rgb, int max_side) {
  std::vector<unsigned char> out;
  if (!cv::imencode(".png", shrink_for_encoding(rgb, max_side), out)) throw Error("PNG encoding failed");
  return out;
}

std::vector<unsigned char> encode_rgb_jpeg(const cv::Mat& rgb, int max_side, int quality) {
  std::vector<unsigned char> out;
  if (!cv::imencode(".jpg", shrink_for_encoding(rgb, max_side), out, {cv::IMWRITE_JPEG_QUALITY, quality}))
    throw Error("JPEG encoding failed");
  return out;
}

}  // namespace imagefit

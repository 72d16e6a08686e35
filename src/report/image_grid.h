#pragma once
// A grid of thumbnails with captions: the augmentation preview (2×4, like the Keras tutorial) and
// the worst-mistakes grid. Thumbnails keep their aspect ratio (letterboxed in a square cell);
// highlighted cells (mistakes) get a red frame and red captions.
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace imagefit {

struct GridCell {
  cv::Mat rgb;             // RGB (or gray / RGBA), 8-bit or float in [0, 1]; empty: a placeholder
  std::string caption;     // e.g. "true: cat / pred: dog 0.91"
  std::string subcaption;  // e.g. the file name
  bool highlight = false;  // drawn in red (a mistake)
};

// Pixel size of a grid picture (for callers that lay pages out).
struct GridLayout {
  int width = 0, height = 0;
  int columns = 0, rows = 0;
  int cell_size = 0, cell_width = 0, cell_height = 0;  // thumbnail edge; cell incl. captions; pitch = size + gap
  int left = 0, top = 0, gap = 0;
  int caption_lines = 0;  // captions wrap onto up to 2 lines
};
GridLayout image_grid_layout(const std::vector<GridCell>& cells, int columns, int cell_size, const std::string& title);

// columns >= 1, cell_size >= 16 (Error otherwise); fewer cells than columns narrows the grid.
std::vector<unsigned char> image_grid_png(const std::vector<GridCell>& cells, int columns, int cell_size,
                                          const std::string& title);
void write_image_grid_png(const std::vector<GridCell>& cells, int columns, int cell_size, const std::string& title,
                          const std::string& path);

// Encodes an RGB image (as in GridCell::rgb) to PNG / JPEG bytes, optionally shrunk so its longer
// side is at most max_side (0: keep size). For embedding thumbnails as data: URIs.
std::vector<unsigned char> encode_rgb_png(const cv::Mat& rgb, int max_side = 0);
std::vector<unsigned char> encode_rgb_jpeg(const cv::Mat& rgb, int max_side = 0, int quality = 85);

}  // namespace imagefit

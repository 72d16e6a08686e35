#pragma once
// Confusion-matrix heat map: one cell per (true, predicted) pair with its count, colour from white
// (0) to dark blue (the largest count), class names on both axes (rotated when long), a colour
// bar. Works for 2 to ~40 classes (cells shrink; counts are dropped only if cells get too small).
#include <cstdint>
#include <string>
#include <vector>

#include "report/metrics.h"

namespace imagefit {

// The heat-map colour (0xRRGGBB) for intensity in [0, 1] (count / largest count); also used by
// the HTML table so picture and table match.
uint32_t heat_color(double intensity);
// Whether text on that colour should be white (else dark) for contrast.
bool heat_text_is_light(double intensity);

// Where things are in the picture (pixels), for the tests and anyone overlaying it.
struct ConfusionLayout {
  int width = 0, height = 0;
  double grid_left = 0, grid_top = 0, cell = 0;  // cell (r, c) = [left + c·cell, top + r·cell]
  bool rotated_labels = false;
};
ConfusionLayout confusion_layout(const std::vector<std::string>& classes, const std::string& title);

// Rows = true class, columns = predicted class. Error if the matrix does not match the classes.
std::vector<unsigned char> confusion_png(const std::vector<std::string>& classes, const ConfusionMatrix& matrix,
                                         const std::string& title);
std::string confusion_svg(const std::vector<std::string>& classes, const ConfusionMatrix& matrix,
                          const std::string& title);
void write_confusion_png(const std::vector<std::string>& classes, const ConfusionMatrix& matrix,
                         const std::string& title, const std::string& path);

}  // namespace imagefit

#pragma once
// The page `imagefit serve` shows at /: one self-contained HTML file (inline CSS and JS, no external
// resources). A person drops or picks an image; the page posts it to /api/predict and draws the top
// classes as bars, next to a preview, the model's name, classes and training metrics.
#include <string>

namespace imagefit {

const std::string& index_html();

}  // namespace imagefit

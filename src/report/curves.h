#pragma once
// Training curves: the Keras tutorial's two plots side by side (training vs validation accuracy,
// training vs validation loss, per epoch), with the best epoch (lowest val_loss) marked, phase
// changes of two-phase transfer learning ("head" → "fine-tune") marked, and NaN epochs shown as
// gaps with a marker. Cairo only; no LibTorch.
#include <string>
#include <vector>

#include "core/history.h"

namespace imagefit {

// Index of the epoch with the lowest finite val_loss (-1 if none is finite). Same as
// best_epoch_index() when no val_loss is NaN.
int best_finite_epoch_index(const History& h);

// Encoded pictures (PNG 1200×480, or the same drawing as SVG for the HTML report).
std::vector<unsigned char> curves_png(const History& history, const std::string& title);
std::string curves_svg(const History& history, const std::string& title);

// Writes the picture atomically; Error naming `path` if it cannot be written.
void write_curves_png(const History& history, const std::string& title, const std::string& path);
void write_curves_svg(const History& history, const std::string& title, const std::string& path);

}  // namespace imagefit

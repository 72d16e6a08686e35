#pragma once
// `imagefit evaluate --report DIR`: confusion.png, mistakes.png (the worst mistakes as a captioned
// grid), curves.png (from the history stored in the model) and one self-contained report.html.
#include <string>
#include <utility>
#include <vector>

#include "eval/evaluate.h"

namespace imagefit {

struct ReportOptions {
  std::string dir;         // created if missing
  std::string model_path;  // shown in the report
  int max_mistakes = 24;   // thumbnails in the grid and the page
};

// The model file's training summary as (key, readable value) pairs, in the file's order: the
// per-epoch history and empty values left out, the augmentation as the spec a user would type.
// Used by the report and by `imagefit info`.
std::vector<std::pair<std::string, std::string>> training_summary_items(const nlohmann::json& training);

// Writes the files (each atomically) and returns their paths. Error naming the file on failure.
std::vector<std::string> write_evaluation_report(const Evaluation& ev, const ReportOptions& options);

}  // namespace imagefit

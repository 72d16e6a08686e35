#pragma once
// `imagefit evaluate --report DIR`: confusion.png, mistakes.png (the worst mistakes as a captioned
// grid), curves.png (from the history stored in the model) and one self-contained report.html.
#include <string>
#include <vector>

#include "eval/evaluate.h"

namespace imagefit {

struct ReportOptions {
  std::string dir;         // created if missing
  std::string model_path;  // shown in the report
  int max_mistakes = 24;   // thumbnails in the grid and the page
};

// Writes the files (each atomically) and returns their paths. Error naming the file on failure.
std::vector<std::string> write_evaluation_report(const Evaluation& ev, const ReportOptions& options);

}  // namespace imagefit

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

// The model file's training summary as (label, readable value) pairs for a person: labels in words
// ("batch size", "head L2 strength", not the file's keys), in the order a reader wants them (keys this
// version does not know last, underscores as spaces), numbers rounded (times as "36.97 s",
// accuracies as percentages, counts with commas), the augmentation as the spec a user would type; the
// per-epoch history and empty values left out. Used by the report and by `imagefit info`.
std::vector<std::pair<std::string, std::string>> training_summary_items(const nlohmann::json& training);

// The model's "created" (epoch seconds) as ISO 8601 local time; "" when the file has none.
std::string created_text(const nlohmann::json& metadata);
// The network's head ("avg pooling, no hidden layer, dropout 0.2, 10 outputs").
std::string head_text(const nlohmann::json& head);

// Writes the files (each atomically) and returns their paths. Error naming the file on failure.
std::vector<std::string> write_evaluation_report(const Evaluation& ev, const ReportOptions& options);

}  // namespace imagefit

#pragma once
// Progress reporting: a redrawn bar with rate and ETA on a terminal, plain lines otherwise.
#include <chrono>
#include <cstdio>
#include <string>

namespace imagefit {

class ProgressBar {
 public:
  // total: number of items (images); label: shown before the bar ("epoch 3/30").
  ProgressBar(std::string label, long total, std::FILE* out = stderr);
  // Sets progress to `done` items; `suffix` is extra text ("loss 0.412 acc 0.83").
  void update(long done, const std::string& suffix = "");
  // Ends the bar (newline on a terminal). Idempotent.
  void finish(const std::string& suffix = "");
  double elapsed_seconds() const;
  static bool is_terminal(std::FILE* f);

 private:
  std::string label_;
  long total_;
  std::FILE* out_;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

std::string format_duration(double seconds);  // "1:02:03", "2:05", "0:07"

}  // namespace imagefit

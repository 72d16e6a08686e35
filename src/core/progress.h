#pragma once
// Progress reporting: a redrawn bar with rate and ETA on a terminal, plain lines otherwise.
#include <chrono>
#include <cstdio>
#include <string>

namespace imagefit {

class ProgressBar {
 public:
  // total: number of items; label: shown before the bar ("train 3/30"); unit: what an item is, for
  // the rate ("img" → "img/s", "KiB" → "KiB/s"). On a terminal the bar is drawn at once. With
  // out = nullptr the bar shows nothing (progress turned off), so callers need no second flag.
  ProgressBar(std::string label, long total, std::FILE* out = stderr, std::string unit = "img");
  // Sets progress to `done` items; `suffix` is extra text ("loss 0.412 acc 0.83").
  void update(long done, const std::string& suffix = "");
  // Ends the bar with a line "LABEL 0:07 SUFFIX" (the bar's last state). Idempotent.
  void finish(const std::string& suffix = "");
  // Ends the bar without a line (on a terminal it is erased): for a step whose summary line the
  // caller prints itself (an epoch's), so logs get one line, not two. Idempotent.
  void discard();
  double elapsed_seconds() const;
  static bool is_terminal(std::FILE* f);

 private:
  void draw(long done, const std::string& suffix);
  std::string label_;
  std::string unit_;
  long total_;
  std::FILE* out_;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

std::string format_duration(double seconds);  // "1:02:03", "2:05", "0:07"

}  // namespace imagefit

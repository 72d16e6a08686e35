#include "core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace imagefit {

bool ProgressBar::is_terminal(std::FILE* f) { return ::isatty(fileno(f)) == 1; }

std::string format_duration(double seconds) {
  long s = std::lround(std::max(0.0, seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

ProgressBar::ProgressBar(std::string label, long total, std::FILE* out, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(std::max(1L, total)), out_(out),
      tty_(out && is_terminal(out)) {
  if (!out_) finished_ = true;  // nothing to show
  start_ = last_draw_ = std::chrono::steady_clock::now();
  if (tty_) draw(0, "");  // at once: the first batch can take seconds
}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::update(long done, const std::string& suffix) {
  if (!tty_ || finished_) return;  // plain output: only the final line (see finish)
  auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(done, suffix);
}

void ProgressBar::draw(long done, const std::string& suffix) {
  double elapsed = elapsed_seconds();
  double frac = std::min(1.0, double(done) / total_);
  double rate = elapsed > 0 ? done / elapsed : 0;
  double eta = rate > 0 ? (total_ - done) / rate : 0;
  const int width = 28;
  int filled = int(frac * width);
  std::string bar(filled, '#');
  bar += std::string(width - filled, '.');
  std::fprintf(out_, "\r\033[K%s [%s] %3d%% %ld/%ld %.0f %s/s ETA %s %s", label_.c_str(), bar.c_str(),
               int(frac * 100), done, total_, rate, unit_.c_str(), done > 0 ? format_duration(eta).c_str() : "-",
               suffix.c_str());
  std::fflush(out_);
}

void ProgressBar::discard() {
  if (finished_) return;
  finished_ = true;
  if (tty_) {
    std::fprintf(out_, "\r\033[K");
    std::fflush(out_);
  }
}

void ProgressBar::finish(const std::string& suffix) {
  if (finished_) return;
  finished_ = true;
  double elapsed = elapsed_seconds();
  if (tty_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "%s %s %s\n", label_.c_str(), format_duration(elapsed).c_str(), suffix.c_str());
  std::fflush(out_);
}

}  // namespace imagefit

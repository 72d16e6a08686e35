#include "core/history.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/error.h"

namespace imagefit {

static const char* kHeader = "epoch,phase,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds,images_per_second";

std::string history_to_csv(const History& h) {
  std::ostringstream s;
  s << kHeader << "\n";
  char buf[512];
  for (const auto& r : h) {
    std::snprintf(buf, sizeof buf, "%d,%s,%.6f,%.6f,%.6f,%.6f,%.6g,%.3f,%.1f\n", r.epoch, r.phase.c_str(), r.train_loss,
                  r.train_accuracy, r.val_loss, r.val_accuracy, r.learning_rate, r.seconds, r.images_per_second);
    s << buf;
  }
  return s.str();
}

History history_from_csv(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kHeader) throw Error("history: unexpected CSV header");
  History h;
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    EpochRecord r;
    char phase[64] = {};
    int n = std::sscanf(line.c_str(), "%d,%63[^,],%lf,%lf,%lf,%lf,%lf,%lf,%lf", &r.epoch, phase, &r.train_loss,
                        &r.train_accuracy, &r.val_loss, &r.val_accuracy, &r.learning_rate, &r.seconds,
                        &r.images_per_second);
    if (n != 9) throw Error("history: malformed CSV line " + std::to_string(line_no));
    r.phase = phase;
    h.push_back(r);
  }
  return h;
}

int best_epoch_index(const History& h) {
  int best = -1;
  for (size_t i = 0; i < h.size(); ++i)
    if (std::isfinite(h[i].val_loss) && (best < 0 || h[i].val_loss < h[best].val_loss)) best = int(i);
  return best;
}

}  // namespace imagefit

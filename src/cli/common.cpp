#include <csignal>

#include "cli/commands.h"

namespace imagefit::cli {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
void on_sigint(int) {
  if (g_interrupted) std::_Exit(130);  // second Ctrl-C: stop now
  g_interrupted = 1;
}
}  // namespace

bool interrupted() { return g_interrupted != 0; }

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace imagefit::cli

#include <csignal>

#include "cli/commands.h"
#include "cli/options.h"

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

CLI::Option* add_precision_option(CLI::App* cmd, std::string& precision) {
  return cmd
      ->add_option("--precision", precision,
                   "auto (bf16 mixed precision where the CPU computes bf16 natively, or on CUDA; else fp32) | fp32 | bf16")
      ->check(one_of({"auto", "fp32", "bf16"}))
      ->capture_default_str();
}

void apply_threads(const GlobalOptions& global) { apply_threads(global.threads); }

}  // namespace imagefit::cli

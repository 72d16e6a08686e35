#pragma once
// One file a subcommand (cmd_<name>.cpp), each adding itself to the CLI11 app.
#include <CLI/CLI.hpp>

namespace imagefit::cli {

// Options every command shares.
struct GlobalOptions {
  int threads = 0;  // 0: all cores
};

void add_split_command(CLI::App& app);
void add_check_command(CLI::App& app);
void add_train_command(CLI::App& app, GlobalOptions& global);
void add_evaluate_command(CLI::App& app, GlobalOptions& global);
void add_predict_command(CLI::App& app, GlobalOptions& global);
void add_info_command(CLI::App& app);
void add_augment_command(CLI::App& app);
void add_weights_command(CLI::App& app);
void add_serve_command(CLI::App& app, GlobalOptions& global);
void add_export_command(CLI::App& app);

// --precision auto|fp32|bf16, declared once for every command that runs a network (models/precision.h).
CLI::Option* add_precision_option(CLI::App* cmd, std::string& precision);

// Sets LibTorch's intra-op threads (all cores unless the user said otherwise).
void apply_threads(const GlobalOptions& global);

// Set by SIGINT: long commands stop cleanly at the next safe point.
bool interrupted();
void install_interrupt_handler();

}  // namespace imagefit::cli

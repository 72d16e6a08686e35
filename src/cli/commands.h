#pragma once
// One file a subcommand (cmd_<name>.cpp), each adding itself to the CLI11 app. The options several
// commands share are declared once, in cli/options.h.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace imagefit::cli {

void add_split_command(CLI::App& app);
void add_check_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_augment_command(CLI::App& app);
void add_weights_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_launch_command(CLI::App& app);
// `imagefit launch [options] -- COMMAND...`: main takes what follows "--" off the command line
// before parsing, so that COMMAND's options are not read as launch's.
void set_launch_command(std::vector<std::string> args);
const std::vector<std::string>& launch_command();

// Set by SIGINT: long commands stop cleanly at the next safe point.
bool interrupted();
void install_interrupt_handler();

}  // namespace imagefit::cli

// imagefit: from a folder of labelled images to a served image classifier, in one binary.
#include <algorithm>
#include <iostream>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "core/error.h"
#include "core/suggest.h"

namespace {

using imagefit::did_you_mean;

// Exit codes: 0 success, 1 the work failed, 2 the command line is wrong, 130 interrupted.
constexpr int kUsageExit = 2;

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
  return names;
}

// The deepest (sub)command named on the command line ("weights fetch"), or nullptr.
CLI::App* named_command(CLI::App& app, const std::vector<std::string>& args, size_t& consumed) {
  CLI::App* current = nullptr;
  CLI::App* scope = &app;
  for (size_t i = 0; i < args.size(); ++i) {
    if (!args[i].empty() && args[i][0] == '-') continue;
    auto found = scope->get_subcommands([&](const CLI::App* s) { return s->get_name() == args[i]; });
    if (found.empty()) break;
    current = scope = found.front();
    consumed = i + 1;
  }
  return current;
}

std::vector<std::string> option_names(const CLI::App* cmd) {
  std::vector<std::string> names;
  for (const CLI::Option* o : cmd->get_options()) {
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
    for (const auto& s : o->get_snames()) names.push_back("-" + s);
  }
  return names;
}

// One formatter for every command-line error: "imagefit: error: ...", a suggestion where a word looks
// mistyped, and where to find the options.
int usage_error(CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args) {
  size_t consumed = 0;
  CLI::App* cmd = named_command(app, args, consumed);
  std::string message = e.what();
  // By type: CLI11 names some errors after the command instead of their class.
  const std::string kind = dynamic_cast<const CLI::ExtrasError*>(&e)     ? "ExtrasError"
                           : dynamic_cast<const CLI::RequiredError*>(&e) ? "RequiredError"
                                                                         : e.get_name();
  if (!cmd) {
    std::string first;
    for (const auto& a : args)
      if (!a.empty() && a[0] != '-') { first = a; break; }
    if (!first.empty() && (kind == "ExtrasError" || kind == "RequiredError"))
      message = "unknown command '" + first + "'" + did_you_mean(first, command_names(app)) + "; commands: " +
                imagefit::join_choices(command_names(app), ", ");
    else if (kind == "RequiredError")
      message = "a command is required: " + imagefit::join_choices(command_names(app), ", ");
  } else if (kind == "ExtrasError") {
    std::string unknown;
    const auto names = option_names(cmd);
    for (size_t i = consumed; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a.size() < 2 || a[0] != '-' || a == "--") continue;
      const std::string name = a.substr(0, a.find('='));
      bool known = false;
      for (const auto& n : names) known = known || n == name;
      if (!known) unknown += (unknown.empty() ? "" : "; ") + ("unknown option " + name) + did_you_mean(name, names);
    }
    if (!unknown.empty()) message = unknown;
  } else if (kind == "RequiredError" && cmd->get_subcommands([](const CLI::App*) { return true; }).size() > 0 &&
             message.find("subcommand") != std::string::npos) {
    message = "'" + cmd->get_name() + "' needs one of: " + imagefit::join_choices(command_names(*cmd), ", ");
  }
  std::string path;  // "weights fetch"
  for (const CLI::App* p = cmd; p && p->get_parent(); p = p->get_parent())
    path = p->get_name() + (path.empty() ? "" : " ") + path;
  std::cerr << "imagefit: error: " << message << "\n"
            << "Run 'imagefit " << (path.empty() ? "" : path + " ") << "--help' for the options.\n";
  return kUsageExit;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace imagefit::cli;
  CLI::App app{"imagefit: train the best image classifier a folder of labelled images can give, then use it.\n"
               "Steps: split → train → evaluate → predict → serve / export. Run 'imagefit COMMAND --help'."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "imagefit 0.1.0");
  // A repeated option takes its last value (as argparse does), so a typed option overrides --config's.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.footer("Exit codes: 0 done, 1 the work failed (the message says why), 2 a wrong command line, 130 interrupted.");
  add_split_command(app);
  add_check_command(app);
  add_train_command(app);
  add_evaluate_command(app);
  add_predict_command(app);
  add_info_command(app);
  add_augment_command(app);
  add_weights_command(app);
  add_serve_command(app);
  add_export_command(app);
  add_launch_command(app);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args.front() == "launch") {
    const auto dashes = std::find(args.begin(), args.end(), "--");
    if (dashes != args.end()) {
      set_launch_command(std::vector<std::string>(dashes + 1, args.end()));
      args.erase(dashes, args.end());
    }
  }
  try {
    args = expand_config_files(args);
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command's own exit status (its message is already printed)
  } catch (const CLI::ParseError& e) {
    return usage_error(app, e, args);
  } catch (const imagefit::UsageError& e) {
    std::cerr << "imagefit: error: " << e.what() << "\n";
    return kUsageExit;
  } catch (const std::exception& e) {
    std::cerr << "imagefit: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

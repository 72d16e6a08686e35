// imagefit: from a folder of labelled images to a served image classifier, in one binary.
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  using namespace imagefit::cli;
  CLI::App app{"imagefit: train the best image classifier a folder of labelled images can give, then use it.\n"
               "Steps: split → train → evaluate → predict → serve / export. Run 'imagefit COMMAND --help'."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "imagefit 0.1.0");
  GlobalOptions global;
  add_split_command(app);
  add_check_command(app);
  add_train_command(app, global);
  add_evaluate_command(app, global);
  add_predict_command(app, global);
  add_info_command(app);
  add_augment_command(app);
  add_weights_command(app);
  add_serve_command(app, global);
  add_export_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const imagefit::Error& e) {
    std::cerr << "imagefit: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "imagefit: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

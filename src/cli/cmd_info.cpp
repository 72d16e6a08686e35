// imagefit info MODEL
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"
#include "cli/options.h"
#include "eval/evaluation_report.h"
#include "weights/model_file.h"

namespace imagefit::cli {

void add_info_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("info", "Show what is in a model file: architecture, classes, preprocessing, training summary.");
  cmd->add_option("model", *path, "Model file")->required()->check(existing_file());
  auto config = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print the metadata as JSON");
  cmd->add_flag("--config", *config,
                "Print the options the model was trained with, as a file for 'imagefit train --config FILE'");
  cmd->callback([path, json, config] {
    nlohmann::json meta = read_model_metadata(*path);
    if (*config) {
      const auto& training = meta.contains("training") ? meta["training"] : nlohmann::json::object();
      if (!training.contains("config") || !training["config"].is_string())
        throw Error(*path + ": has no recorded config (trained by an older imagefit)");
      std::cout << training["config"].get<std::string>();
      return;
    }
    if (*json) {
      std::cout << meta.dump(2) << std::endl;
      return;
    }
    const auto& net = meta["network"];
    std::printf("model:          %s (format version %d)\n", path->c_str(), meta.value("format_version", 0));
    std::printf("architecture:   %s", net.value("arch", "?").c_str());
    if (net.value("alpha", 1.0) != 1.0) std::printf(" alpha=%g", net.value("alpha", 1.0));
    std::printf("\ninput:          %dx%d RGB (resize %s), normalization %s\n", net.value("image_size", 0),
                net.value("image_size", 0), net.value("resize", "squash").c_str(), net.value("normalization", "?").c_str());
    std::printf("classes (%zu):  ", net["classes"].size());
    for (size_t i = 0; i < net["classes"].size(); ++i) std::printf("%s%s", i ? ", " : "", net["classes"][i].get<std::string>().c_str());
    std::printf("\nhead:           %s pooling, hidden %lld, dropout %.2f\n", net["head"].value("pooling", "?").c_str(),
                (long long)net["head"].value("hidden", 0), net["head"].value("dropout", 0.0));
    if (meta.contains("training")) {
      std::printf("training:\n");
      // The per-epoch table is left out: see --json or the .history.csv beside the model.
      for (const auto& [key, text] : training_summary_items(meta["training"]))
        std::printf("  %-20s %s\n", key.c_str(), text.c_str());
    }
  });
}

}  // namespace imagefit::cli

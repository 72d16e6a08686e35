// imagefit evaluate MODEL DIR
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/fs.h"
#include "core/text.h"
#include "eval/evaluate.h"
#include "eval/evaluation_report.h"

namespace imagefit::cli {

void add_evaluate_command(CLI::App& app) {
  auto opt = std::make_shared<EvaluateOptions>();
  auto common = std::make_shared<CommonOptions>();
  common->batch_size = opt->batch_size;
  auto show_mistakes = std::make_shared<int>(10);
  auto report_dir = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("evaluate", "Accuracy, per-class precision/recall/F1 and confusion matrix of a model on labelled images.");
  cmd->footer("DIR is a folder of class folders, or a dataset root (its test/ split is used).\n"
              "--report DIR writes confusion.png, mistakes.png, curves.png and a self-contained report.html.\n"
              "Example: imagefit evaluate model.imagefit data/test --report report/");
  cmd->add_option("model", opt->model, "Model file")->required()->check(existing_file());
  cmd->add_option("dir", opt->data, "Folder of class folders")->required()->check(existing_dir());
  cmd->add_option("--mistakes", *show_mistakes, "How many of the most confident mistakes to list")
      ->capture_default_str()
      ->check(int_range(0, 1000000));
  cmd->add_option("--report", *report_dir, "Write pictures and a self-contained report.html into this folder");
  CommonHelp help;
  help.json = "Print JSON: accuracy, loss, per_class, confusion, mistakes";
  add_common_options(cmd, *common,
                     {Common::BatchSize, Common::Threads, Common::Device, Common::Precision, Common::Json, Common::Quiet,
                      Common::Config, Common::Tta},
                     help);
  cmd->add_flag("--strict", opt->strict, "Unreadable images are errors");
  cmd->callback([opt, common, show_mistakes, report_dir] {
    opt->threads = common->threads;
    opt->device = common->device;
    opt->precision = to_string(common->precision);
    opt->batch_size = common->batch_size;
    opt->tta = common->tta;
    opt->progress = !common->quiet && !common->json;
    // The report's pictures must not land in the data (a report/ folder there would become a class).
    if (!report_dir->empty())
      check_output_path(std::filesystem::path(*report_dir) / "report.html", {opt->model}, {opt->data}, true, "--report");
    const auto json = std::make_shared<bool>(common->json);
    Evaluation ev = evaluate_model(*opt);
    std::vector<std::string> report_files;
    if (!report_dir->empty()) {
      ReportOptions ro;
      ro.dir = *report_dir;
      ro.model_path = opt->model;
      report_files = write_evaluation_report(ev, ro);
    }
    if (*json) {
      nlohmann::json j = metrics_to_json(ev.metrics);
      j["classes"] = ev.classes;
      j["mistakes"] = nlohmann::json::array();
      for (const auto& m : ev.mistakes)
        j["mistakes"].push_back({{"path", m.path}, {"true", ev.classes[m.truth]}, {"predicted", ev.classes[m.predicted]},
                                 {"probability", m.probability}});
      j["calibration"] = calibration_to_json(ev.calibration);
      j["skipped"] = ev.skipped;
      j["seconds"] = ev.seconds;
      j["evaluated_on"] = ev.evaluated_on;
      if (!report_files.empty()) j["report"] = report_files;
      std::cout << j.dump(2) << std::endl;
      return;
    }
    std::cout << metrics_to_text(ev.metrics);
    const auto& cal = ev.calibration;
    const std::string views = cal.tta ? ", test-time augmentation (" + std::to_string(cal.views) + " views)" : "";
    std::printf("calibration: temperature %.3f%s: loss %.4f (uncalibrated %.4f), ECE %.2f%% (uncalibrated %.2f%%)\n",
                cal.temperature, views.c_str(),
                ev.metrics.loss, cal.loss_uncalibrated, 100 * cal.ece_after, 100 * cal.ece_before);
    if (!ev.mistakes.empty() && *show_mistakes > 0) {
      std::printf("\nmost confident mistakes (%s in all):\n", with_commas(static_cast<long long>(ev.mistakes.size())).c_str());
      for (size_t i = 0; i < ev.mistakes.size() && int(i) < *show_mistakes; ++i) {
        const auto& m = ev.mistakes[i];
        std::printf("  %s: true %s, predicted %s (%s)\n", printable(m.path).c_str(), printable(ev.classes[m.truth]).c_str(),
                    printable(ev.classes[m.predicted]).c_str(), percent(m.probability).c_str());
      }
    }
    if (!ev.skipped.empty())
      std::printf("\n%s skipped\n", plural(static_cast<long long>(ev.skipped.size()), "unreadable image").c_str());
    for (const auto& f : report_files) std::printf("wrote %s\n", f.c_str());
  });
}

}  // namespace imagefit::cli

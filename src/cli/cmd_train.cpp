// imagefit train DATA -o MODEL
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "core/parallel.h"
#include "train/trainer.h"

namespace imagefit::cli {

void add_train_command(CLI::App& app, GlobalOptions& global) {
  auto opt = std::make_shared<TrainOptions>();
  auto json = std::make_shared<bool>(false);
  auto quiet = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("train", "Train a classifier on a folder of class folders (or train/validation/test).");
  cmd->footer(
      "Examples:\n"
      "  imagefit train data/ -o model.imagefit                            (transfer learning, plan chosen for you)\n"
      "  imagefit train data/ --arch simple-cnn --image-size 64 --epochs 20 (from scratch)\n"
      "  imagefit train data/ --weights mobilenet_v2_0.35_224.h5          (transfer learning)\n"
      "  imagefit train data/ --arch simple-cnn --augment keras-tutorial --epochs 100\n"
      "  imagefit train data/ --time-budget 2m                             (fits the plan into 2 minutes)\n"
      "Keeps the epoch with the lowest val_loss; writes MODEL and MODEL's .history.csv beside it.");
  cmd->add_option("data", opt->data, "Dataset folder")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--output", opt->output, "Model file to write")->capture_default_str();
  cmd->add_option("--arch", opt->arch, "Architecture (simple-cnn, or a backbone name; default: from --weights, else the best cached pretrained backbone, else simple-cnn)");
  cmd->add_option("--weights", opt->weights, "Pretrained backbone weights: Keras .h5 or torchvision .pth")->check(CLI::ExistingFile);
  cmd->add_option_function<std::string>(
         "--strategy", [opt](const std::string& v) { opt->strategy = strategy_from_string(v); },
         "auto (default: the linear probe, then fine-tuning if validation says it can help) | scratch | "
         "feature-extract | fine-tune");
  cmd->add_option("--image-size", opt->image_size, "Input size in pixels (default: 180 for simple-cnn, else the backbone's)");
  cmd->add_option("--resize", opt->resize,
                  "How images become size x size, for training and later prediction: squash (whole image, as Keras "
                  "flow_from_directory) | crop (largest centered square) | center-crop (torchvision: shorter side "
                  "to size/0.875, central crop)")
      ->capture_default_str()
      ->check(CLI::IsMember({"squash", "crop", "center-crop"}));
  cmd->add_option("--epochs", opt->epochs,
                  "Epochs of the phase that trains with the optimizer: from scratch, all of them (default 30); "
                  "fine-tuning, the epochs after the linear probe, which is one fit and not counted (default: up to 10, "
                  "stopping --patience epochs after the best)");
  cmd->add_option_function<std::string>(
      "--time-budget", [opt](const std::string& v) { opt->time_budget = duration_from_string(v); },
      "Time the whole run may take (90s, 2m, 1h30m): fine-tuning gets what the probe leaves, measured on this "
      "machine (AutoGluon's time_limit)");
  cmd->add_option("--batch-size", opt->batch_size, "Batch size")->capture_default_str();
  cmd->add_option_function<std::string>(
      "--optimizer", [opt](const std::string& v) { opt->optimizer = optimizer_from_string(v); },
      "rmsprop | adam | adamw | sgd (default: rmsprop from scratch, adam transfer)");
  cmd->add_option("--lr", opt->lr, "Learning rate (default: 1e-3; sgd 1e-2); fine-tuning: the head's");
  cmd->add_option("--backbone-lr", opt->backbone_lr, "fine-tune: the backbone's learning rate (default: a tenth of --lr)");
  cmd->add_option("--weight-decay", opt->weight_decay, "Weight decay")->capture_default_str();
  cmd->add_option("--momentum", opt->momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--dropout", opt->dropout, "Dropout before the last layer")->capture_default_str();
  cmd->add_option("--head-hidden", opt->head_hidden, "Hidden units in the head (0: none)")->capture_default_str();
  cmd->add_option("--head-solver", opt->head_solver,
                  "Head on frozen features: lbfgs (logistic regression to convergence) | epochs (the optimizer)")
      ->check(CLI::IsMember({"lbfgs", "epochs"}))
      ->capture_default_str();
  cmd->add_option_function<std::string>(
      "--unfreeze", [opt](const std::string& v) { opt->unfreeze = unfreeze_from_string(v); },
      "fine-tune: train the last N backbone stages, 'all', or 'auto' (default: by the number of training images)");
  cmd->add_flag("!--no-activation-cache", opt->cache_activations,
                "fine-tune: run the frozen stages every epoch instead of once per image (uses less memory)");
  cmd->add_option("--augment", opt->augment, "Augmentation preset or key=value list (see README); auto: light for transfer learning, none from scratch")->capture_default_str();
  cmd->add_option("--val-split", opt->val_split, "Fraction of train used for validation when there is no validation folder")
      ->capture_default_str();
  cmd->add_option("--patience", opt->patience,
                  "Early stopping after N epochs without val_loss improvement (0: off; default: 3 when fine-tuning, "
                  "off from scratch)");
  cmd->add_option("--seed", opt->seed, "Random seed")->capture_default_str();
  cmd->add_option("--threads", global.threads, "Threads (default: all cores)");
  cmd->add_option("--device", opt->device, "cpu | cuda | cuda:N | auto")->capture_default_str();
  auto precision = std::make_shared<std::string>("auto");
  add_precision_option(cmd, *precision);
  cmd->add_flag("--strict", opt->strict, "Unreadable images are errors (default: reported and skipped)");
  cmd->add_flag("--json", *json, "Print one JSON object with the results at the end");
  cmd->add_flag("-q,--quiet", *quiet, "No progress output");
  cmd->callback([opt, json, quiet, precision, &global] {
    opt->threads = global.threads;
    opt->precision = precision_from_string(*precision);
    opt->progress = !*quiet;
    install_interrupt_handler();
    nlohmann::json summary = train_model(*opt, [] { return interrupted(); });
    if (*json) {
      std::cout << summary.dump(2) << std::endl;
    } else {
      std::printf("best epoch %d: val_loss %.4f val_accuracy %.4f\n", summary["best_epoch"].get<int>(),
                  summary["val_loss"].get<double>(), summary["val_accuracy"].get<double>());
      if (!summary["test_accuracy"].is_null())
        std::printf("test accuracy %.4f (loss %.4f, %d images)\n", summary["test_accuracy"].get<double>(),
                    summary["test_loss"].get<double>(), summary["test_images"].get<int>());
      std::printf("model written to %s (%.0f s)\n", opt->output.c_str(), summary["seconds"].get<double>());
    }
    if (interrupted()) throw CLI::RuntimeError(130);
  });
}

}  // namespace imagefit::cli

// imagefit train DATA -o MODEL
#include <cstdio>
#include <iostream>
#include <sstream>

#include "augment/augment_params.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "core/suggest.h"
#include "core/text.h"
#include "train/trainer.h"

namespace imagefit::cli {

namespace {
std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
  return out + "\"";
}

// The options as a --config file (TOML): everything that decides the result, with "auto" values left
// out so a rerun plans exactly as this one did. `imagefit info --config MODEL` prints it back.
std::string config_text(const TrainOptions& o) {
  std::ostringstream t;
  t.precision(17);
  auto str = [&](const char* key, const std::string& v) {
    if (!v.empty()) t << key << " = " << toml_string(v) << "\n";
  };
  auto num = [&](const char* key, double v) { t << key << " = " << v << "\n"; };
  t << "# imagefit train --config FILE repeats this run (options typed after it win)\n";
  str("data", o.data);
  str("output", o.output);
  str("arch", o.arch);
  str("weights", o.weights);
  str("strategy", to_string(o.strategy));
  if (o.epochs > 0) num("epochs", o.epochs);
  if (o.time_budget > 0) str("time-budget", std::to_string(o.time_budget) + "s");
  if (o.optimizer != OptimizerName::Default) str("optimizer", to_string(o.optimizer));
  if (o.lr > 0) num("lr", o.lr);
  if (o.backbone_lr > 0) num("backbone-lr", o.backbone_lr);
  num("weight-decay", o.weight_decay);
  num("momentum", o.momentum);
  num("dropout", o.dropout);
  if (o.label_smoothing > 0) num("label-smoothing", o.label_smoothing);
  num("head-hidden", o.head_hidden);
  str("head-solver", o.head_solver);
  str("unfreeze", unfreeze_to_string(o.unfreeze));
  if (!o.cache_activations) t << "no-activation-cache = true\n";
  str("augment", o.augment);
  num("val-split", o.val_split);
  if (o.patience >= 0) num("patience", o.patience);
  if (o.monitor != "val_loss") str("monitor", o.monitor);
  if (o.schedule != Schedule::Auto) str("schedule", to_string(o.schedule));
  if (o.image_size > 0) num("image-size", o.image_size);
  str("resize", o.resize);
  num("batch-size", o.batch_size);
  t << "seed = " << o.seed << "\n";
  if (o.threads > 0) num("threads", o.threads);
  str("device", o.device);
  str("precision", to_string(o.precision));
  if (o.strict) t << "strict = true\n";
  str("calibrate", o.calibrate);
  str("tta", o.tta);
  return t.str();
}
}  // namespace

void add_train_command(CLI::App& app) {
  auto opt = std::make_shared<TrainOptions>();
  auto common = std::make_shared<CommonOptions>();
  auto* cmd = app.add_subcommand("train", "Train a classifier on a folder of class folders (or train/validation/test).");
  cmd->footer(
      "Examples:\n"
      "  imagefit train data/ -o model.imagefit                            (transfer learning, plan chosen for you)\n"
      "  imagefit train data/ --arch simple-cnn --image-size 64 --epochs 20 (from scratch)\n"
      "  imagefit train data/ --weights mobilenet_v2_0.35_224.h5          (transfer learning)\n"
      "  imagefit train data/ --arch simple-cnn --augment keras-tutorial --epochs 100\n"
      "  imagefit train data/ --time-budget 2m                             (fits the plan into 2 minutes)\n"
      "Keeps the best epoch (--monitor: the lowest val_loss by default); writes MODEL and MODEL's .history.csv beside it.\n"
      "--augment presets: " + join_choices(augment_preset_names(), ", ") + "; or key=value pairs (imagefit augment --help).");
  cmd->add_option("data", opt->data, "Dataset folder")->required()->check(existing_dir());
  cmd->add_option("-o,--output", opt->output, "Model file to write")->capture_default_str();
  cmd->add_option("--arch", opt->arch, "Architecture (simple-cnn, or a backbone name; default: from --weights, else the best cached pretrained backbone, else simple-cnn)");
  cmd->add_option("--weights", opt->weights, "Pretrained backbone weights: Keras .h5 or torchvision .pth")->check(existing_file());
  cmd->add_option_function<std::string>(
         "--strategy", [opt](const std::string& v) { opt->strategy = strategy_from_string(v); },
         "auto (default: the linear probe, then fine-tuning if validation says it can help) | scratch | "
         "feature-extract | fine-tune")
      ->check(one_of({"auto", "scratch", "feature-extract", "fine-tune"}));
  cmd->add_option("--epochs", opt->epochs,
                  "Epochs of the phase that trains with the optimizer: from scratch, all of them (default 30); "
                  "fine-tuning, the epochs after the linear probe, which is one fit and not counted (default: up to 10, "
                  "stopping --patience epochs after the best)")
      ->check(int_range(1, 100000));
  cmd->add_option_function<std::string>(
      "--time-budget", [opt](const std::string& v) { opt->time_budget = duration_from_string(v); },
      "Time the whole run may take (90s, 2m, 1h30m): fine-tuning gets what the probe leaves, measured on this "
      "machine (AutoGluon's time_limit)");
  cmd->add_option_function<std::string>(
         "--optimizer", [opt](const std::string& v) { opt->optimizer = optimizer_from_string(v); },
         "rmsprop | adam | adamw | sgd (default: rmsprop from scratch, adam transfer)")
      ->check(one_of({"rmsprop", "adam", "adamw", "sgd"}));
  cmd->add_option("--lr", opt->lr, "Learning rate (default: 1e-3; sgd 1e-2); fine-tuning: the head's")->check(positive_real());
  cmd->add_option("--backbone-lr", opt->backbone_lr, "fine-tune: the backbone's learning rate (default: a tenth of --lr)")
      ->check(positive_real());
  cmd->add_option("--weight-decay", opt->weight_decay, "Weight decay")->capture_default_str()->check(real_range(0, 1));
  cmd->add_option("--momentum", opt->momentum, "SGD momentum")->capture_default_str()->check(real_range(0, 1, false, true));
  cmd->add_option("--dropout", opt->dropout, "Dropout before the last layer")->capture_default_str()->check(real_range(0, 1, false, true));
  cmd->add_option("--label-smoothing", opt->label_smoothing,
                  "Train against (1 - e)*one-hot + e/classes instead of one-hot (PyTorch's and Keras's label_smoothing; "
                  "not in the linear probe; val_loss stays the plain cross-entropy)")
      ->capture_default_str()
      ->check(real_range(0, 1, false, true));
  cmd->add_option("--head-hidden", opt->head_hidden, "Hidden units in the head (0: none)")->capture_default_str()->check(int_range(0, 65536));
  cmd->add_option("--head-solver", opt->head_solver,
                  "Head on frozen features: lbfgs (logistic regression to convergence) | epochs (the optimizer)")
      ->check(one_of({"lbfgs", "epochs"}))
      ->capture_default_str();
  cmd->add_option_function<std::string>(
      "--unfreeze", [opt](const std::string& v) { opt->unfreeze = unfreeze_from_string(v); },
      "fine-tune: train the last N backbone stages, 'all', or 'auto' (default: by the number of training images)");
  cmd->add_flag("!--no-activation-cache", opt->cache_activations,
                "fine-tune: run the frozen stages every epoch instead of once per image (uses less memory)");
  cmd->add_option("--augment", opt->augment,
                  "Augmentation: a preset (" + join_choices(augment_preset_names(), ", ") + ") or key=value list; auto: light for transfer "
                  "learning, none from scratch")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            if (v == "auto") return "";
            try {
              parse_augment(v);
            } catch (const std::exception& e) {
              return e.what();
            }
            return "";
          },
          "SPEC"));
  cmd->add_option("--val-split", opt->val_split, "Fraction of train used for validation when there is no validation folder")
      ->capture_default_str()
      ->check(real_range(0, 0.9, true, false));
  cmd->add_option("--patience", opt->patience,
                  "Early stopping after N epochs without val_loss improvement (0: off; default: 3 when fine-tuning, "
                  "off from scratch)")
      ->check(int_range(0, 100000));
  cmd->add_option_function<std::string>(
         "--schedule", [opt](const std::string& v) { opt->schedule = schedule_from_string(v); },
         "Learning rate over the optimizer's epochs: auto (cosine after a one-epoch warm-up when fine-tuning, "
         "constant from scratch) | constant | cosine | onecycle (PyTorch's OneCycleLR, fastai's fit_one_cycle)")
      ->check(one_of({"auto", "constant", "cosine", "onecycle"}));
  cmd->add_option("--monitor", opt->monitor,
                  "The best epoch, kept as the model and watched by early stopping: val_loss (lowest) | val_accuracy "
                  "(highest; ties: lower val_loss) (Keras's ModelCheckpoint monitor)")
      ->check(one_of({"val_loss", "val_accuracy"}))
      ->capture_default_str();
  CommonHelp help;
  help.json = "Print one JSON object with the results at the end";
  help.force = "Replace MODEL if it exists (without it, an existing model is never overwritten)";
  help.image_size = "Input size in pixels (default: 180 for simple-cnn, else the backbone's)";
  help.tta = "Test-time augmentation, decided on validation after training: auto (measure it and record it in the model, "
             "so evaluate, predict and serve use it, only if it raises validation accuracy, or keeps it and lowers the "
             "loss) | on (record it) | off (not measured: TTA makes inference 4x slower)";
  common->tta = opt->tta;
  add_common_options(cmd, *common,
                     {Common::ImageSize, Common::Resize, Common::BatchSize, Common::Seed, Common::Threads, Common::Device,
                      Common::Precision, Common::Json, Common::Quiet, Common::Force, Common::Config, Common::Calibrate,
                      Common::Tta},
                     help);
  cmd->add_flag("--resume", opt->resume,
                "Continue an interrupted run from its last completed epoch (MODEL.resume, written after each "
                "epoch; give the same command and options as before)");
  cmd->add_flag("--distributed", opt->distributed,
                "Data-parallel training over processes: reads MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK as "
                "torchrun sets them (or start it with 'imagefit launch --nproc N -- train ...'); rank 0 writes the model");
  cmd->add_option("--dist-timeout", opt->dist_timeout,
                  "Seconds a rank waits for the others before the run stops with an error (a rank died or hung)")
      ->capture_default_str()
      ->check(real_range(1, 86400));
  cmd->add_flag("--strict", opt->strict, "Unreadable images are errors (default: reported and skipped)");
  cmd->callback([opt, common] {
    opt->threads = common->threads;
    opt->device = common->device;
    opt->precision = common->precision;
    opt->batch_size = common->batch_size;
    opt->seed = common->seed;
    opt->image_size = common->image_size;
    opt->resize = common->resize;
    opt->overwrite = common->force;
    opt->progress = !common->quiet;
    opt->calibrate = common->calibrate;
    opt->tta = common->tta;
    opt->config = config_text(*opt);
    install_interrupt_handler();
    nlohmann::json summary = train_model(*opt, [] { return interrupted(); });
    const bool reports = summary.value("rank", 0) == 0;  // rank 0 reports for the run
    if (!reports) {
    } else if (common->json) {
      std::cout << summary.dump(2) << std::endl;
    } else {
      std::printf("best epoch %d: val_loss %.4f val_accuracy %.4f\n", summary["best_epoch"].get<int>(),
                  summary["val_loss"].get<double>(), summary["val_accuracy"].get<double>());
      if (!summary["test_accuracy"].is_null())
        std::printf("test accuracy %.4f (loss %.4f, %s)\n", summary["test_accuracy"].get<double>(),
                    summary["test_loss"].get<double>(), plural(summary["test_images"].get<long long>(), "image").c_str());
      std::printf("model written to %s (%s)\n", opt->output.c_str(), duration_text(summary["seconds"].get<double>()).c_str());
    }
    if (interrupted()) throw CLI::RuntimeError(130);
    if (summary.value("diverged", false)) {
      // The model file holds the best epoch before the loss blew up; scripts still see a failure.
      if (reports) std::fprintf(stderr, "imagefit: error: %s\n", summary["stopped"].get<std::string>().c_str());
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace imagefit::cli

#pragma once
// Everything `imagefit train` can be told, parsed into types at the command line (strategy,
// optimizer and precision are enums, not strings checked deep inside). Torch-free.
#include <cstdint>
#include <string>

#include "models/precision.h"
#include "train/schedule.h"

namespace imagefit {

enum class Strategy { Auto, Scratch, FeatureExtract, FineTune };
std::string to_string(Strategy s);                   // "auto", "scratch", "feature-extract", "fine-tune"
Strategy strategy_from_string(const std::string& s);  // throws Error naming the choices

enum class OptimizerName { Default, RMSprop, Adam, AdamW, SGD };  // Default: rmsprop from scratch, adam transfer
std::string to_string(OptimizerName o);
OptimizerName optimizer_from_string(const std::string& s);  // throws Error naming the choices
double default_learning_rate(OptimizerName o);  // sgd 1e-2, the others 1e-3 (Keras's defaults)

// --unfreeze: how many of the backbone's last stages fine-tuning trains.
constexpr int kUnfreezeAuto = 0;   // the plan decides from the data size
constexpr int kUnfreezeAll = -1;   // every stage
int unfreeze_from_string(const std::string& s);  // "auto" | "all" | N ≥ 1; throws Error
std::string unfreeze_to_string(int unfreeze);

// --time-budget: "90" or "90s", "2m", "1h", "1h30m", "1.5m" → seconds (> 0); throws Error.
double duration_from_string(const std::string& s);

struct TrainOptions {
  std::string data;               // dataset folder (class folders, or train/validation/test)
  std::string output = "model.imagefit";
  std::string arch;               // "" → from --weights, else the best pretrained backbone found, else simple-cnn
  std::string weights;            // pretrained backbone weights file (Keras .h5 / torchvision .pth)
  Strategy strategy = Strategy::Auto;
  int image_size = 0;             // 0 → 180 (simple-cnn) or the backbone's size
  std::string resize = "squash";  // squash | crop | center-crop (models/input.h), kept in the model
  // Passes over the training images of the phase that trains with an optimizer: from scratch, the
  // epochs; fine-tuning, the fine-tune epochs after the linear probe (the probe is one fit, not an
  // epoch); feature extraction with --head-solver epochs, the head's epochs. 0 → the plan's default.
  int epochs = 0;
  int batch_size = 32;
  OptimizerName optimizer = OptimizerName::Default;
  double lr = 0;                  // 0 → optimizer's default
  double backbone_lr = 0;         // fine-tune: the backbone's learning rate; 0 → lr / 10
  double weight_decay = 0;
  double momentum = 0.9;          // sgd
  double dropout = 0.5;
  // Cross-entropy against (1 - e)·one-hot + e/classes in the epochs trained with the optimizer
  // (PyTorch's CrossEntropyLoss(label_smoothing=e), Keras's label_smoothing); not in the linear
  // probe's logistic regression, and val_loss stays the plain cross-entropy.
  double label_smoothing = 0;
  int head_hidden = 0;
  std::string head_solver = "lbfgs";  // head on frozen features without hidden layer: lbfgs | epochs
  int unfreeze = kUnfreezeAuto;   // fine-tune: kUnfreezeAuto, kUnfreezeAll or the last N stages
  uint64_t seed = 0;
  int threads = 0;                // 0 → all cores
  int patience = -1;              // early stopping on --monitor; 0 = off, -1 = the plan's default
  Schedule schedule = Schedule::Auto;  // the learning rate over the optimizer phases (train/schedule.h)
  std::string monitor = "val_loss";  // the best epoch: val_loss | val_accuracy (train/callbacks.h Monitor)
  double val_split = 0.2;         // taken from train when there is no validation split
  double time_budget = 0;         // seconds the whole run may take (0: no limit); the plan fits into it
  // Preset or key=value list (augment/augment_params.h); "auto": "light" for transfer learning, "none"
  // from scratch (the Keras tutorial's baseline).
  std::string augment = "auto";
  Precision precision = Precision::Auto;
  bool cache_activations = true;  // fine-tuning the last stages: run the frozen ones once per image copy
  bool strict = false;            // unreadable images are errors instead of being skipped
  std::string device = "cpu";     // cpu | cuda | cuda:N | auto
  bool progress = true;           // progress bars and per-epoch lines on stderr
  bool overwrite = false;         // replace an existing output model (--force)
  bool resume = false;            // continue from MODEL.resume (train/checkpoint.h)
  bool distributed = false;       // data-parallel over torchrun's environment (train/distributed.h)
  double dist_timeout = 60;       // seconds a collective may wait for the other ranks
  std::string config;             // these options as a --config file (TOML), recorded in the model
  std::string calibrate = "temperature";  // after training, on validation: temperature | none (train/calibrate.h)
  std::string tta = "off";        // test-time augmentation: auto (kept if it helps on validation) | on | off
};

}  // namespace imagefit

#pragma once
// The phases a training plan (train/plan.h) is made of, each a loop that reports its epochs to the
// run's TrainState (train/callbacks.h):
//   probe      frozen features once per image copy → logistic regression (or the head for epochs)
//   fine-tune  the last stages + head on images, from the probe's head; with the activation cache
//              the frozen stages ran once per image copy and an epoch runs only the trainable ones
//   train      the whole network (from scratch)
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

#include "models/classifier.h"
#include "models/precision.h"
#include "train/augmentation.h"
#include "train/callbacks.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/image_cache.h"
#include "train/optimizer.h"
#include "train/options.h"
#include "train/plan.h"
#include "weights/saved_model.h"

namespace imagefit {

class ActivationCache;

// What the phases of one run share.
struct Run {
  const TrainOptions& opt;
  const TrainPlan& plan;
  torch::Device device;
  NetworkSpec spec;
  Classifier net{nullptr};
  TrainState state;
  Precision precision;  // may fall back to fp32 when a bf16 kernel is missing
  int threads = 1;
  std::function<bool()> interrupted;
  bool was_interrupted = false;
  bool diverged = false;  // a nan/inf loss: the run stops and keeps the best epoch before it
  // Resume (train/checkpoint.h): the checkpoint this run continues (null: none or used up), the
  // index of the phase running, and the trainer's hook that writes a checkpoint after each epoch.
  const Checkpoint* resume = nullptr;
  int phase_index = 0;
  std::function<void(int phase_epochs_done, torch::optim::Optimizer*)> checkpoint;
  // The frozen stages' output the probe kept for fine-tuning (train/activation_cache.h), and the
  // stage it stops before; null when the probe kept none (the fine-tune phase then computes it).
  std::shared_ptr<ActivationCache> activations;
  size_t activations_split = 0;
  // Data-parallel training (train/distributed.h): null in a single process.
  Distributed* dist = nullptr;
  int rank() const { return dist ? dist->rank() : 0; }
  int world() const { return dist ? dist->world_size() : 1; }

  bool check_interrupt();  // polls `interrupted`; on true, stops the phase as "interrupted"
  void diverge(const std::string& phase, int epoch, double loss, double lr);  // records a nan/inf loss and stops the run
  // Epochs of the running phase that the checkpoint already holds (0: the phase starts afresh).
  int resumed_epochs() const;
  OptimizerSpec optimizer_spec() const { return {plan.optimizer, opt.weight_decay, opt.momentum}; }
};

struct ProbeResult {
  double val_accuracy = 0, val_loss = 0;
  double seconds = 0;
  double feature_seconds_per_image = 0;  // measured frozen forward incl. loading, per image
  nlohmann::json metadata;               // head_solver, head_l2, feature_copies
};

ProbeResult probe_phase(Run& run, const PhasePlan& phase, const ImageCache& train, const ImageCache& val,
                        const Augmentation& aug);

// The activation cache of a fine-tune phase with cache_bottom: the output of the frozen stages for the
// copies the probe makes (its augmented copies 1.., or its plain copy 0 without augmentation), as
// probe_phase keeps them in run.activations when the plan says cache_from_probe. Throws Error when it
// does not fit its memory bound.
std::shared_ptr<ActivationCache> compute_activation_cache(Run& run, const PhasePlan& phase, const ImageCache& train,
                                                          const ImageCache& val, const Augmentation& aug);

// Returns metadata to record (unfrozen stages, learning rates, whether the cache was used).
nlohmann::json fine_tune_phase(Run& run, const PhasePlan& phase, const ImageCache& train, const ImageCache& val,
                               const Augmentation& aug);

void train_phase(Run& run, const PhasePlan& phase, const ImageCache& train, const ImageCache& val,
                 const Augmentation& aug);

// For a network whose BatchNorm layers run in inference mode: multiplies each convolution that feeds
// a BatchNorm by that BatchNorm's scale (gamma / sqrt(var + eps)) and leaves the BatchNorm an identity
// plus bias, so the network computes the same function while every channel's weights have the scale
// of its effect. Returns how many pairs were folded (a Conv2d directly followed, in registration
// order, by a BatchNorm2d of its output channels).
int fold_batchnorm_scales(torch::nn::Module& module);

// Marks the last `n` stages of the backbone trainable (all others frozen). Returns their parameters.
std::vector<torch::Tensor> unfreeze_last_stages(Backbone& backbone, int n);

}  // namespace imagefit

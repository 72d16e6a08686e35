#pragma once
// The training plan: what `imagefit train` will do, decided from the options, the data and the
// backbone before any work starts, with a reason for each choice (printed in two lines). A pure
// function of its inputs, so its decisions are unit-tested without training (tests/train/plan_test).
//
// The choices follow the usual transfer-learning table (dataset size × similarity to ImageNet):
// the linear probe comes first, always (its features are computed once and it takes seconds); its
// validation accuracy says how similar the task is. When the probe is already near perfect, more
// training mostly overfits a small set: stop there. Otherwise fine-tune the backbone, as deep as the
// data size justifies (small sets: the last stages only, whose frozen part then runs once per image,
// train/activation_cache.h; larger sets: all of it), and stop as soon as validation stops improving
// on the best epoch so far (the probe included), so fine-tuning costs time only where it helps.
#include <string>
#include <vector>

#include "models/precision.h"
#include "train/options.h"

namespace imagefit {

// Known before any work.
struct DataFacts {
  size_t train_images = 0, validation_images = 0, classes = 0;
};

struct BackboneFacts {
  bool pretrained = false;     // false: training from scratch
  int stages = 0;              // BackboneImpl::stages().size()
  bool can_run_stages = false;  // BackboneImpl::can_run_stages(): the activation cache is possible
};

// Measured costs (seconds per image), from a short timing on this machine before the plan is made;
// zeros when unknown (the plan then gives no time estimate and ignores the budget until it measures).
struct CostFacts {
  double decode = 0;          // decode + resize one image into the cache
  double frozen_forward = 0;  // the whole backbone, frozen graph, at the plan's precision
  double train_step = 0;      // forward + backward + update of the whole network, per image
};

enum class PhaseKind {
  Probe,       // frozen features once per image copy, then logistic regression (L-BFGS) for the head
  HeadEpochs,  // frozen features, the head trained with the optimizer for `epochs`
  FineTune,    // the last `unfreeze` stages + head on images, starting from the probe's head
  Train,       // the whole network from scratch
};
std::string to_string(PhaseKind k);

struct PhasePlan {
  PhaseKind kind = PhaseKind::Train;
  int epochs = 0;          // the most epochs (early stopping and the time budget can end it sooner)
  int unfreeze = 0;        // FineTune: the last N of `stages` train
  int stages = 0;
  bool cache_bottom = false;  // FineTune: frozen stages run once per image copy, their output kept
  bool cache_from_probe = false;  // FineTune: the probe keeps that output as it computes its features
  int feature_copies = 0;  // Probe/HeadEpochs: augmented copies of the training features
  int patience = 0;        // early stopping on val_loss after N epochs without improvement (0: off)
  int grace = 0;           // the phase's first N epochs do not count towards the patience
  Schedule schedule = Schedule::Constant;  // FineTune/Train: the learning rate over the phase (resolved)
  bool conditional = false;  // FineTune under `auto`: runs only if decide_after_probe says so
  std::string why;         // the reason, one clause
};

struct TrainPlan {
  Strategy strategy = Strategy::Auto;  // resolved, except Auto which the probe settles
  std::vector<PhasePlan> phases;
  std::string augment;            // resolved --augment spec ("none", "light", ...)
  Precision precision = Precision::FP32;  // resolved
  OptimizerName optimizer = OptimizerName::Adam;  // resolved
  double lr = 0, backbone_lr = 0;  // resolved
  double time_budget = 0;          // seconds, 0: none
  double estimated_seconds = 0;    // 0: unknown
  std::vector<std::string> notes;  // options that have no effect with this plan, and other warnings
  // The plan in one or two lines, as printed before the work starts.
  std::string summary() const;
  const PhasePlan* find(PhaseKind kind) const;
};

TrainPlan make_plan(const TrainOptions& options, const DataFacts& data, const BackboneFacts& backbone,
                    Precision precision, const CostFacts& costs = {});

// Strategy auto, once the probe is done: fine-tune or not, and why.
struct ProbeDecision {
  bool fine_tune = false;
  std::string why;
};
ProbeDecision decide_after_probe(const TrainPlan& plan, double probe_val_accuracy, double seconds_left,
                                 double fine_tune_epoch_seconds);

// Seconds the phases will take at the measured costs (0 when a cost is unknown).
double estimate_seconds(const TrainPlan& plan, const DataFacts& data, const CostFacts& costs);
// Seconds one more epoch of a FineTune or Train phase takes at the measured costs (0 when unknown).
double epoch_seconds(const PhasePlan& phase, const DataFacts& data, const CostFacts& costs);
// Fine-tune epochs that fit into `seconds` at `epoch_seconds` each (at least 0).
int epochs_that_fit(double seconds, double epoch_seconds);

// The probe is "already near perfect" at or above this validation accuracy.
constexpr double kProbeGoodEnough = 0.985;

}  // namespace imagefit

#include "train/plan.h"

#include "core/text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace imagefit {

std::string to_string(PhaseKind k) {
  switch (k) {
    case PhaseKind::Probe: return "probe";
    case PhaseKind::HeadEpochs: return "head";
    case PhaseKind::FineTune: return "fine-tune";
    case PhaseKind::Train: return "train";
  }
  return "train";
}

namespace {


std::string seconds_text(double s) {
  char b[32];
  if (s < 90)
    std::snprintf(b, sizeof b, "%.0f s", std::max(1.0, s));
  else
    std::snprintf(b, sizeof b, "%.1f min", s / 60);
  return b;
}

// How much of a backbone to fine-tune, by the number of training images. Few images cannot move
// every weight without overfitting, and the last stages are the most task-specific, so small sets
// fine-tune the last third. From 1,000 images deeper pays, but the first stages (edges, colours) are
// generic: the last two thirds, whose frozen stem then runs once per image copy (the activation cache),
// measured on sign digits (1,442 training images, MobileNetV2-0.35): the last 13 of 20 stages, cached,
// 0.971 test in 149 s; the whole backbone 0.974 in 247 s; the last 7, 0.965 in 121 s (docs/RESULTS.md).
// A backbone that cannot split its stages gains nothing from stopping short: the whole of it. From
// 10,000 images (or when the cache does not apply) the whole backbone.
int auto_unfreeze(size_t train_images, int stages, bool can_cache) {
  if (stages <= 0) return 0;
  const int third = std::max(1, (stages + 2) / 3);
  if (train_images < 1000) return third;
  if (train_images < 10000 && can_cache) return std::max(1, stages - third);
  return stages;
}

double phase_seconds(const PhasePlan& p, const DataFacts& d, const CostFacts& c) {
  const double train = double(d.train_images), val = double(d.validation_images);
  switch (p.kind) {
    case PhaseKind::Probe:
    case PhaseKind::HeadEpochs:
      return (train * (1 + p.feature_copies) + val) * c.frozen_forward;
    case PhaseKind::FineTune: {
      // FLOPs are spread about evenly over a MobileNet's or ResNet's stages.
      const double open = p.stages > 0 ? std::clamp(double(p.unfreeze) / p.stages, 0.0, 1.0) : 1.0;
      const double per_epoch = train * c.train_step * (p.cache_bottom ? open : 1.0) + val * c.frozen_forward;
      const double cache = p.cache_bottom && !p.cache_from_probe
                               ? std::max(1, p.feature_copies) * train * c.frozen_forward * (1 - open) : 0;
      return cache + p.epochs * per_epoch;
    }
    case PhaseKind::Train:
      return p.epochs * (train * c.train_step + val * c.frozen_forward);
  }
  return 0;
}

}  // namespace

const PhasePlan* TrainPlan::find(PhaseKind kind) const {
  for (const auto& p : phases)
    if (p.kind == kind) return &p;
  return nullptr;
}

double estimate_seconds(const TrainPlan& plan, const DataFacts& data, const CostFacts& costs) {
  if (costs.frozen_forward <= 0 || costs.train_step <= 0) return 0;
  double s = double(data.train_images + data.validation_images) * costs.decode;
  for (const auto& p : plan.phases) s += phase_seconds(p, data, costs);
  return s;
}

double epoch_seconds(const PhasePlan& phase, const DataFacts& data, const CostFacts& costs) {
  PhasePlan none = phase, one = phase;
  none.epochs = 0;
  one.epochs = 1;
  return phase_seconds(one, data, costs) - phase_seconds(none, data, costs);
}

int epochs_that_fit(double seconds, double epoch_seconds) {
  if (epoch_seconds <= 0) return 0;
  return std::max(0, int(std::floor(seconds / epoch_seconds)));
}

TrainPlan make_plan(const TrainOptions& o, const DataFacts& data, const BackboneFacts& backbone, Precision precision,
                    const CostFacts& costs) {
  TrainPlan plan;
  const bool transfer = backbone.pretrained;
  plan.strategy = o.strategy;
  if (!transfer) {
    if (o.strategy == Strategy::Auto) plan.strategy = Strategy::Scratch;
    if (plan.strategy != Strategy::Scratch)
      throw Error("--strategy " + to_string(o.strategy) +
                  " needs a pretrained backbone: --weights FILE, or `imagefit weights fetch NAME` to cache one");
  }
  plan.precision = precision;
  plan.augment = o.augment == "auto" ? (transfer ? "light" : "none") : o.augment;
  plan.optimizer = o.optimizer != OptimizerName::Default ? o.optimizer
                                                         : (transfer ? OptimizerName::Adam : OptimizerName::RMSprop);
  plan.lr = o.lr > 0 ? o.lr : default_learning_rate(plan.optimizer);
  plan.backbone_lr = o.backbone_lr > 0 ? o.backbone_lr : plan.lr / 10;
  plan.time_budget = o.time_budget;
  const bool augmented = plan.augment != "none";
  const bool epochs_head = o.head_hidden > 0 || o.head_solver == "epochs";

  if (plan.strategy == Strategy::Scratch) {
    PhasePlan p;
    p.kind = PhaseKind::Train;
    p.epochs = o.epochs > 0 ? o.epochs : 30;
    p.patience = std::max(0, o.patience);
    p.schedule = o.schedule == Schedule::Auto ? Schedule::Constant : o.schedule;  // the Keras tutorial's
    p.why = transfer ? "the whole network trains, starting from the pretrained weights"
                     : "no pretrained backbone: the network trains from scratch";
    plan.phases.push_back(p);
  } else {
    PhasePlan head;
    head.kind = epochs_head ? PhaseKind::HeadEpochs : PhaseKind::Probe;
    head.feature_copies = augmented ? 4 : 0;
    if (epochs_head) {
      head.epochs = plan.strategy == Strategy::FeatureExtract ? (o.epochs > 0 ? o.epochs : 20) : 5;
      head.patience = std::max(0, o.patience);
      head.why = o.head_hidden > 0 ? "a hidden layer in the head: trained with the optimizer"
                                   : "--head-solver epochs: the head trains with the optimizer";
    } else {
      head.why = "logistic regression on frozen features, trained to convergence";
    }
    plan.phases.push_back(head);
    if (plan.strategy == Strategy::FeatureExtract) {
      if (!epochs_head && o.epochs > 0)
        plan.notes.push_back("--epochs has no effect with --strategy feature-extract: the linear probe is fitted to "
                             "convergence (--head-solver epochs trains the head for epochs)");
      if (o.unfreeze != kUnfreezeAuto)
        plan.notes.push_back("--unfreeze has no effect with --strategy feature-extract (the backbone stays frozen)");
    } else {
      PhasePlan ft;
      ft.kind = PhaseKind::FineTune;
      ft.stages = backbone.stages;
      ft.unfreeze = o.unfreeze == kUnfreezeAll    ? backbone.stages
                    : o.unfreeze == kUnfreezeAuto ? auto_unfreeze(data.train_images, backbone.stages, backbone.can_run_stages && o.cache_activations)
                                                  : std::min(o.unfreeze, backbone.stages);
      ft.epochs = o.epochs > 0 ? o.epochs : 10;
      ft.patience = o.patience >= 0 ? o.patience : 3;
      // The warm-up epoch and the first at the full learning rate move validation most, often for
      // the worse before it improves (sign digits: 3 such epochs after a probe ended a run that went
      // on to beat the probe by 3 points): they do not count towards the patience.
      ft.grace = ft.patience > 0 ? 2 : 0;
      // Pretrained weights take a warm-up (the head from the probe meets a moving backbone) and a decay.
      ft.schedule = o.schedule == Schedule::Auto ? Schedule::Cosine : o.schedule;
      ft.cache_bottom = o.cache_activations && backbone.can_run_stages && ft.unfreeze < ft.stages;
      ft.feature_copies = ft.cache_bottom ? (augmented ? std::min(ft.epochs, 4) : 1) : 0;
      ft.cache_from_probe = ft.cache_bottom && (augmented ? head.feature_copies >= ft.feature_copies : true);
      ft.conditional = plan.strategy == Strategy::Auto;
      if (o.unfreeze == kUnfreezeAuto)
        ft.why = ft.unfreeze == ft.stages
                     ? std::to_string(data.train_images) + " training images: enough to fine-tune the whole backbone"
                     : std::to_string(data.train_images) + " training images: the last " + std::to_string(ft.unfreeze) +
                           " of " + std::to_string(ft.stages) + " stages fine-tune (more would overfit)";
      else
        ft.why = "--unfreeze " + unfreeze_to_string(o.unfreeze);
      plan.phases.push_back(ft);
    }
  }
  if (o.unfreeze != kUnfreezeAuto && plan.strategy == Strategy::Scratch)
    plan.notes.push_back("--unfreeze has no effect with --strategy scratch (every layer trains)");
  if (o.label_smoothing > 0 && !plan.find(PhaseKind::FineTune) && !plan.find(PhaseKind::Train) &&
      !plan.find(PhaseKind::HeadEpochs))
    plan.notes.push_back("--label-smoothing has no effect on the linear probe (logistic regression); it applies to "
                         "epochs trained with the optimizer");
  if (o.backbone_lr > 0 && !plan.find(PhaseKind::FineTune))
    plan.notes.push_back("--backbone-lr has no effect without fine-tuning");

  // The time budget: first shorten fine-tuning, then drop the augmented feature copies; the probe
  // itself always runs (it is the least that gives a model).
  if (plan.time_budget > 0 && costs.frozen_forward > 0 && costs.train_step > 0) {
    TrainPlan first = plan;
    first.phases.resize(1);
    if (plan.phases.front().feature_copies > 0 && estimate_seconds(first, data, costs) > plan.time_budget) {
      plan.phases.front().feature_copies = 0;
      for (auto& p : plan.phases) p.cache_from_probe = p.cache_from_probe && !augmented;
      plan.notes.push_back("the time budget leaves no time for augmented feature copies");
    }
    for (auto& p : plan.phases) {
      if (p.kind != PhaseKind::FineTune && p.kind != PhaseKind::Train) continue;
      const int wanted = p.epochs;
      p.epochs = 0;
      const double fixed = estimate_seconds(plan, data, costs);  // all else, and this phase's cache
      p.epochs = std::min(wanted, epochs_that_fit(plan.time_budget - fixed, epoch_seconds(p, data, costs)));
      if (p.kind == PhaseKind::Train) p.epochs = std::max(1, p.epochs);  // from scratch: at least one
    }
    if (!plan.phases.empty() && plan.phases.back().kind == PhaseKind::FineTune && plan.phases.back().epochs == 0) {
      plan.phases.pop_back();
      plan.notes.push_back("the time budget leaves no time for fine-tuning: the linear probe only");
    }
  }
  plan.estimated_seconds = estimate_seconds(plan, data, costs);
  return plan;
}

std::string TrainPlan::summary() const {
  std::string s = "plan: ";
  std::string why;
  for (size_t i = 0; i < phases.size(); ++i) {
    const auto& p = phases[i];
    if (i) s += p.conditional ? ", then, if the probe is below " + percent(kProbeGoodEnough) + " on validation, " : ", then ";
    switch (p.kind) {
      case PhaseKind::Probe:
        s += "linear probe on frozen features";
        if (p.feature_copies) s += " (+" + std::to_string(p.feature_copies) + " augmented copies)";
        break;
      case PhaseKind::HeadEpochs:
        s += "head on frozen features for " + plural(p.epochs, "epoch");
        break;
      case PhaseKind::FineTune:
        s += "fine-tune " + (p.unfreeze == p.stages ? std::string("the whole backbone")
                                                    : "the last " + std::to_string(p.unfreeze) + " of " +
                                                          std::to_string(p.stages) + " stages") +
             (p.cache_bottom ? " (frozen stages run once per image)" : "") + " for up to " + plural(p.epochs, "epoch");
        if (p.patience)
          s += ", stopping " + plural(p.patience, "epoch") + " after the best" +
               (p.grace ? " (not before epoch " + std::to_string(p.grace + p.patience) + ")" : "");
        break;
      case PhaseKind::Train:
        s += "train for " + plural(p.epochs, "epoch");
        if (p.patience) s += " (early stopping after " + std::to_string(p.patience) + ")";
        break;
    }
    why += (why.empty() ? "" : "; ") + p.why;
  }
  s += "; " + to_string(precision) + ", augment " + augment;
  if (!phases.empty() && phases.back().schedule != Schedule::Constant &&
      (phases.back().kind == PhaseKind::FineTune || phases.back().kind == PhaseKind::Train))
    s += ", " + to_string(phases.back().schedule) + " learning rate";
  if (estimated_seconds > 0) s += "; about " + seconds_text(estimated_seconds) + (phases.size() > 1 && phases.back().conditional ? " at most" : "");
  if (time_budget > 0) s += " (time budget " + seconds_text(time_budget) + ")";
  s += "\nwhy: " + why;
  for (const auto& n : notes) s += "\nnote: " + n;
  return s;
}

ProbeDecision decide_after_probe(const TrainPlan& plan, double acc, double seconds_left, double epoch_seconds) {
  const PhasePlan* ft = plan.find(PhaseKind::FineTune);
  if (!ft) return {false, "no fine-tuning in the plan"};
  if (!ft->conditional) return {true, "--strategy fine-tune"};
  if (acc >= kProbeGoodEnough)
    return {false, "the linear probe reaches " + percent(acc) +
                       " on validation: ImageNet features already fit this task (fine-tuning would mostly overfit)"};
  if (plan.time_budget > 0 && epoch_seconds > 0 && seconds_left < epoch_seconds)
    return {false, "the time budget leaves " + seconds_text(std::max(0.0, seconds_left)) +
                       ", less than one fine-tune epoch (about " + seconds_text(epoch_seconds) + ")"};
  return {true, "the linear probe reaches " + percent(acc) + " on validation: fine-tuning may do better"};
}

}  // namespace imagefit

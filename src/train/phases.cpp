#include "train/phases.h"

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include "core/error.h"
#include "core/progress.h"
#include "core/text.h"
#include "core/random.h"
#include "models/frozen_features.h"
#include "train/activation_cache.h"
#include "train/batch_loader.h"
#include "train/logistic_regression.h"
#include "train/scoring.h"
#include "weights/model_file.h"
#include "weights/state_dict.h"

namespace imagefit {

namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// One optimizer step at the run's precision: the forward under autocast, the loss in fp32, backward
// outside autocast (as PyTorch recommends). LibTorch 1.13 lacks a few bf16 CPU backward kernels; if
// the network needs one, the run says so once and continues in fp32.
std::pair<torch::Tensor, torch::Tensor> train_step(Run& run, torch::optim::Optimizer& optimizer,
                                                   const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                                                   const torch::Tensor& inputs, const torch::Tensor& labels) {
  for (;;) {
    try {
      optimizer.zero_grad();
      torch::Tensor logits;
      {
        AutocastScope autocast(run.precision, run.device.is_cuda());
        logits = forward(inputs);
      }
      logits = logits.to(torch::kFloat);
      auto loss = F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().label_smoothing(run.opt.label_smoothing));
      loss.backward();
      if (run.dist) {
        std::vector<torch::Tensor> params;
        for (auto& group : optimizer.param_groups())
          for (auto& p : group.params()) params.push_back(p);
        run.dist->average_gradients(params);
      }
      optimizer.step();
      return {logits.detach(), loss.detach()};
    } catch (const c10::Error& e) {
      if (run.precision != Precision::BF16) throw;
      std::fprintf(stderr, "note: bf16 training needs a kernel this LibTorch lacks (%s); continuing in fp32\n",
                   first_line(e.what_without_backtrace()).c_str());
      run.precision = Precision::FP32;
    }
  }
}

// Where an epoch's batches come from: images through the augmenting loader, or cached activations.
class EpochSource {
 public:
  virtual ~EpochSource() = default;
  virtual void start(int epoch) = 0;
  virtual std::optional<std::pair<torch::Tensor, torch::Tensor>> next() = 0;  // inputs, labels
  virtual size_t batches_per_epoch() const = 0;
  virtual size_t samples_per_epoch() const = 0;
};

class ImageSource : public EpochSource {
 public:
  ImageSource(const ImageCache& cache, Normalization norm, SampleTransform t, LoaderOptions lo)
      : loader_(cache, norm, std::move(t), lo) {}
  void start(int epoch) override { loader_.start_epoch(epoch); }
  std::optional<std::pair<torch::Tensor, torch::Tensor>> next() override {
    auto b = loader_.next();
    if (!b) return std::nullopt;
    return std::make_pair(b->images, b->labels);
  }
  size_t batches_per_epoch() const override { return loader_.batches_per_epoch(); }
  size_t samples_per_epoch() const override { return loader_.samples_per_epoch(); }
  const BatchLoader& loader() const { return loader_; }

 private:
  BatchLoader loader_;
};

// Cached activations, batched in the order the image loader would use (same seed, same epoch).
class ActivationSource : public EpochSource {
 public:
  ActivationSource(const ActivationCache& acts, const ImageCache& images, torch::Tensor labels, Normalization norm,
                   LoaderOptions lo)
      : acts_(acts), labels_(std::move(labels)), order_loader_(images, norm, nullptr, lo), batch_size_(size_t(lo.batch_size)) {}
  void start(int epoch) override {
    epoch_ = epoch;
    order_ = order_loader_.epoch_order(epoch);
    pos_ = 0;
  }
  std::optional<std::pair<torch::Tensor, torch::Tensor>> next() override {
    if (pos_ >= order_.size()) return std::nullopt;
    std::vector<size_t> idx(order_.begin() + long(pos_), order_.begin() + long(std::min(order_.size(), pos_ + batch_size_)));
    pos_ += idx.size();
    std::vector<int64_t> rows(idx.begin(), idx.end());
    return std::make_pair(acts_.train_batch(epoch_, idx), labels_.index_select(0, torch::tensor(rows, torch::kInt64)));
  }
  size_t batches_per_epoch() const override { return order_loader_.batches_per_epoch(); }
  size_t samples_per_epoch() const override { return order_loader_.samples_per_epoch(); }

 private:
  const ActivationCache& acts_;
  torch::Tensor labels_;      // of every training image, in cache order
  BatchLoader order_loader_;  // only for its epoch order
  size_t batch_size_;
  std::vector<size_t> order_;
  size_t pos_ = 0;
  int epoch_ = 0;
};

struct EpochLoop {
  std::string phase;
  int epochs = 0;
  Schedule schedule = Schedule::Constant;  // the learning rate over the phase's steps (train/schedule.h)
  std::vector<double> base_lrs;
  std::function<void()> set_modes;                                   // train/eval modes of the modules
  std::function<torch::Tensor(const torch::Tensor&)> forward;         // inputs → logits
  std::function<std::pair<double, double>()> validate;                // → val loss, val accuracy
};

void run_epochs(Run& run, EpochLoop& loop, EpochSource& source, torch::optim::Optimizer& optimizer) {
  const size_t steps_per_epoch = source.batches_per_epoch();
  const size_t total_steps = steps_per_epoch * size_t(loop.epochs);
  // Resuming: the network was restored by the phase; the optimizer and RNG continue from the checkpoint.
  const int first = run.resumed_epochs();
  if (first > 0) {
    run.resume->restore_optimizer(optimizer);
    run.resume->restore_rng();
    run.resume = nullptr;
  }
  size_t step = steps_per_epoch * size_t(first);
  for (int e = first; e < loop.epochs && !run.state.stop; ++e) {
    const auto t0 = Clock::now();
    loop.set_modes();
    source.start(e);
    ProgressBar bar(loop.phase + " " + std::to_string(e + 1) + "/" + std::to_string(loop.epochs),
                    long(source.samples_per_epoch()), run.opt.progress ? stderr : nullptr);
    double loss_sum = 0;
    long correct = 0, seen = 0;
    while (auto batch = source.next()) {
      if (loop.schedule != Schedule::Constant) {
        const double factor = learning_rate_factor(loop.schedule, step, steps_per_epoch, total_steps);
        std::vector<double> lrs;
        for (double lr : loop.base_lrs) lrs.push_back(lr * factor);
        set_learning_rates(optimizer, lrs);
      }
      auto labels = batch->second.to(run.device);
      auto [logits, loss] = train_step(run, optimizer, loop.forward, batch->first.to(run.device), labels);
      const long n = long(labels.size(0));
      const double batch_loss = loss.item<double>();
      const bool bad = run.dist ? run.dist->any(!std::isfinite(batch_loss)) : !std::isfinite(batch_loss);
      if (bad) {
        // The weights are now garbage: stop here; the best epoch so far is already saved.
        bar.finish("(diverged)");
        run.diverge(loop.phase, e + 1, batch_loss, optimizer.param_groups().back().options().get_lr());
        return;
      }
      loss_sum += batch_loss * double(n);
      correct += logits.argmax(1).eq(labels).sum().item<long>();
      seen += n;
      ++step;
      char suffix[96];
      std::snprintf(suffix, sizeof suffix, "loss %.4f acc %.4f", loss_sum / double(seen), double(correct) / double(seen));
      bar.update(seen, suffix);
      if (run.check_interrupt()) break;
    }
    if (run.was_interrupted) {
      bar.finish("(interrupted)");
      break;
    }
    const double train_seconds = seconds_since(t0);
    bar.discard();  // the epoch's line follows
    if (run.dist) {  // the epoch's training metrics over every rank's shard
      auto sums = torch::tensor({loss_sum, double(correct), double(seen)}, torch::kFloat64);
      run.dist->all_reduce_sum({sums});
      loss_sum = sums[0].item<double>();
      correct = long(std::llround(sums[1].item<double>()));
      seen = long(std::llround(sums[2].item<double>()));
    }
    EpochRecord rec;
    rec.phase = loop.phase;
    rec.train_loss = loss_sum / double(std::max(1L, seen));
    rec.train_accuracy = double(correct) / double(std::max(1L, seen));
    {
      torch::NoGradGuard no_grad;
      AutocastScope autocast(run.precision, run.device.is_cuda());
      std::tie(rec.val_loss, rec.val_accuracy) = loop.validate();
    }
    rec.learning_rate = optimizer.param_groups().back().options().get_lr();
    rec.seconds = seconds_since(t0);
    rec.images_per_second = double(seen) / std::max(1e-9, train_seconds);
    bool go_on = run.state.end_epoch(rec);
    if (run.dist && run.dist->any(!go_on)) {  // a time budget reads each rank's clock: stop together
      go_on = false;
      run.state.stop = true;
    }
    if (run.checkpoint) run.checkpoint(e + 1, &optimizer);
    if (!go_on) break;
  }
}

// The loop on augmented images through the whole network, validated on the validation images.
void train_on_images(Run& run, EpochLoop& loop, const ImageCache& train, const ImageCache& val, const Augmentation& aug,
                     const LoaderOptions& lo, torch::optim::Optimizer& optimizer) {
  Classifier net = run.net;
  const int batch = std::max(64, run.opt.batch_size);
  loop.forward = [net](const torch::Tensor& x) mutable { return net->forward(x); };
  loop.validate = [&, net]() mutable {
    Classifier c = net;
    Scores v = score_images(c, val, run.spec.normalization, batch, run.device, run.threads,
                            run.opt.progress ? "validation" : "", nullptr, run.rank(), run.world());
    if (!run.dist) return std::make_pair(v.loss, v.accuracy);
    // Each rank scored every world-th image: the sums over all of them.
    auto sums = torch::tensor({v.loss * double(v.count()), v.accuracy * double(v.count()), double(v.count())}, torch::kFloat64);
    run.dist->all_reduce_sum({sums});
    const double n = std::max(1.0, sums[2].item<double>());
    return std::make_pair(sums[0].item<double>() / n, sums[1].item<double>() / n);
  };
  ImageSource source(train, run.spec.normalization, aug.transform, lo);
  run_epochs(run, loop, source, optimizer);
}

// The seed of the probe's feature copy `copy` (0: the images as they are; 1..: augmented copies);
// the activation cache computes the same copies with it (train/activation_cache.h).
uint64_t feature_seed(uint64_t seed, int copy) { return mix_seed({seed, 0xFEA7, uint64_t(copy)}); }

// The frozen backbone the probe runs: whole, or in two halves split where fine-tuning will open it,
// so that the bottom half's output is kept for the fine-tune phase (the activation cache) on the way
// instead of being computed again there.
struct ProbeBackbone {
  std::unique_ptr<FrozenFeatures> whole_or_bottom, top;
  torch::ScalarType keep_type = torch::kFloat;
  torch::Tensor operator()(const torch::Tensor& x, std::vector<torch::Tensor>* kept) {
    if (!top) return (*whole_or_bottom)(x);
    auto a = (*whole_or_bottom)(x);
    if (kept) kept->push_back(a.to(torch::kCPU, keep_type).contiguous());
    return (*top)(a);
  }
};

// Pooled backbone features of every cached image (frozen backbone, eval mode); with `kept`, the
// bottom half's output of every image too (in order; gathered from the ranks when distributed).
torch::Tensor pooled_features(Run& run, ProbeBackbone& frozen, const ImageCache& cache,
                              const SampleTransform& transform, int copy, const std::string& label,
                              torch::Tensor* kept = nullptr) {
  torch::NoGradGuard no_grad;
  run.net->eval();
  LoaderOptions lo;
  lo.batch_size = 64;
  lo.shuffle = false;
  lo.threads = run.threads;
  lo.seed = feature_seed(run.opt.seed, copy);
  lo.rank = run.rank();
  lo.world = run.world();
  BatchLoader loader(cache, run.spec.normalization, transform, lo);
  loader.start_epoch(copy);
  std::vector<torch::Tensor> parts, kept_parts;
  ProgressBar bar(label, long(cache.size()), run.opt.progress ? stderr : nullptr);
  long seen = 0;
  while (auto batch = loader.next()) {
    auto fmap = frozen(batch->images.to(run.device), kept ? &kept_parts : nullptr);
    parts.push_back(run.net->head()->pool(fmap).to(torch::kCPU));
    seen += batch->images.size(0);
    bar.update(seen);
    if (run.interrupted && run.interrupted()) throw Error("interrupted while computing features");
  }
  bar.finish();
  // Each rank computed every world-th image: all of them, in order, on every rank.
  if (kept) *kept = run.dist ? run.dist->gather_strided_rows(torch::cat(kept_parts), int64_t(cache.size())) : torch::cat(kept_parts);
  return run.dist ? run.dist->gather_strided_rows(torch::cat(parts), int64_t(cache.size())) : torch::cat(parts);
}

// The activation cache's settings for a fine-tune phase: the copies the probe makes (feature_seed).
ActivationCacheOptions cache_options(const Run& run, const PhasePlan& phase, size_t first_trainable, bool augmented) {
  ActivationCacheOptions ao;
  ao.first_trainable_stage = first_trainable;
  ao.copies = augmented ? std::max(1, phase.feature_copies) : 1;
  ao.first_copy = augmented ? 1 : 0;  // the probe's copy 0 is the images as they are
  const uint64_t seed = run.opt.seed;
  ao.copy_seed = [seed](int copy) { return feature_seed(seed, copy); };
  ao.precision = run.precision;
  ao.threads = run.threads;
  ao.progress = run.opt.progress;
  return ao;
}

torch::Tensor cache_labels(const ImageCache& cache) {
  auto t = torch::empty({int64_t(cache.size())}, torch::kInt64);
  for (size_t i = 0; i < cache.size(); ++i) t[int64_t(i)] = cache.label(i);
  return t;
}

// The head on precomputed features, for epochs with the optimizer (a hidden layer, or --head-solver epochs).
void train_head_on_features(Run& run, int epochs, const torch::Tensor& train_x, const torch::Tensor& train_y,
                            const torch::Tensor& val_x, const torch::Tensor& val_y) {
  auto head = run.net->head();
  auto optimizer = make_optimizer(run.optimizer_spec(), {head->parameters()}, {run.plan.lr});
  auto tx = train_x.to(run.device), ty = train_y.to(run.device), vx = val_x.to(run.device), vy = val_y.to(run.device);
  const int64_t n = tx.size(0);
  for (int e = 0; e < epochs && !run.state.stop; ++e) {
    const auto t0 = Clock::now();
    head->train();
    torch::manual_seed(int64_t(mix_seed({run.opt.seed, 0x4EAD, uint64_t(e)}) >> 1));
    auto perm = torch::randperm(n, torch::TensorOptions().dtype(torch::kInt64)).to(run.device);
    double loss_sum = 0;
    long correct = 0;
    for (int64_t first = 0; first < n; first += run.opt.batch_size) {
      auto idx = perm.slice(0, first, std::min(n, first + run.opt.batch_size));
      auto x = tx.index_select(0, idx), y = ty.index_select(0, idx);
      optimizer->zero_grad();
      auto logits = head->classify(x);
      auto loss = F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().label_smoothing(run.opt.label_smoothing));
      loss.backward();
      optimizer->step();
      const double batch_loss = loss.item<double>();
      if (!std::isfinite(batch_loss)) return run.diverge("head", e + 1, batch_loss, run.plan.lr);
      loss_sum += batch_loss * double(idx.size(0));
      correct += logits.argmax(1).eq(y).sum().item<long>();
    }
    if (run.check_interrupt()) break;
    torch::NoGradGuard no_grad;
    head->eval();
    auto vlogits = head->classify(vx);
    EpochRecord rec;
    rec.phase = "head";
    rec.train_loss = loss_sum / double(n);
    rec.train_accuracy = double(correct) / double(n);
    rec.val_loss = F::cross_entropy(vlogits, vy).item<double>();
    rec.val_accuracy = vlogits.argmax(1).eq(vy).to(torch::kFloat64).mean().item<double>();
    rec.learning_rate = optimizer->param_groups()[0].options().get_lr();
    rec.seconds = seconds_since(t0);
    rec.images_per_second = double(n) / std::max(1e-9, rec.seconds);
    if (!run.state.end_epoch(rec)) break;
  }
}

}  // namespace

int fold_batchnorm_scales(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  int folded = 0;
  torch::nn::Conv2dImpl* previous = nullptr;
  for (const auto& m : module.modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      previous = conv;
      continue;
    }
    auto* bn = m->as<torch::nn::BatchNorm2d>();
    if (!bn || !previous || previous->options.out_channels() != bn->options.num_features() || !bn->options.affine() ||
        !bn->options.track_running_stats())
      continue;
    const double eps = bn->options.eps();
    auto scale = bn->weight / torch::sqrt(bn->running_var + eps);  // per output channel
    auto& w = previous->weight;
    w.mul_(scale.reshape({-1, 1, 1, 1}));
    bn->bias.sub_(scale * bn->running_mean);
    if (previous->options.bias() && previous->bias.defined()) {
      // conv bias b: s·(W·x + b - mean) + beta = W'·x + s·b + (beta - s·mean); keep b in the conv.
      previous->bias.mul_(scale);
    }
    bn->weight.fill_(1);
    bn->running_mean.zero_();
    bn->running_var.fill_(1 - eps);
    previous = nullptr;
    ++folded;
  }
  return folded;
}

void Run::diverge(const std::string& phase, int epoch, double loss, double lr) {
  diverged = true;
  char text[320];
  std::snprintf(text, sizeof text,
                "training diverged: the loss became %s in %s epoch %d at learning rate %.3g; %s; try a smaller --lr "
                "(e.g. %.3g)",
                std::isnan(loss) ? "nan" : "infinite", phase.c_str(), epoch, lr,
                state.best_epoch > 0 ? ("kept epoch " + std::to_string(state.best_epoch) + ", the best before it").c_str()
                                     : "no epoch finished before it",
                plan.lr / 10);
  state.request_stop(text);
}

int Run::resumed_epochs() const {
  if (!resume || resume->state.value("phase", -1) != phase_index) return 0;
  return resume->state.value("phase_epochs", 0);
}

bool Run::check_interrupt() {
  if (was_interrupted) return true;
  bool now = interrupted && interrupted();
  if (dist) now = dist->any(now);  // every rank stops at the same step, or the others would wait on it
  if (now) {
    was_interrupted = true;
    state.request_stop("interrupted");
  }
  return was_interrupted;
}

ProbeResult probe_phase(Run& run, const PhasePlan& phase, const ImageCache& train, const ImageCache& val,
                        const Augmentation& aug) {
  const auto t0 = Clock::now();
  ProbeResult result;
  for (auto& p : run.net->backbone()->parameters()) p.set_requires_grad(false);
  const int copies = aug.transform ? phase.feature_copies : 0;  // augmented copies of the training features
  // When fine-tuning will follow with the activation cache, the backbone runs in two halves and the
  // bottom's output is kept: the copies fine-tuning trains on are the probe's augmented ones (or its
  // one plain copy without augmentation).
  ProbeBackbone frozen;
  const PhasePlan* ft = run.plan.find(PhaseKind::FineTune);
  size_t split = 0;
  int keep = 0;  // training copies kept
  if (ft && ft->cache_from_probe) {
    const int n_stages = int(run.net->backbone()->stages().size());
    split = size_t(n_stages - std::min(ft->unfreeze, n_stages));
    const bool augmented = bool(aug.transform);
    ActivationCacheOptions ao = cache_options(run, *ft, split, augmented);
    ao.copies = augmented ? std::min(ao.copies, copies) : 1;
    try {
      if (split == 0 || ao.copies < 1) throw Error("nothing to keep");
      const auto layout = ActivationCache::layout(
          ActivationCache::bytes_per_image(run.net, run.spec.image_size, split, run.device), train.size(), val.size(), ao);
      keep = layout.copies;
      frozen.keep_type = layout.type;
    } catch (const Error& e) {
      if (run.opt.progress && split > 0) std::fprintf(stderr, "note: the probe keeps no activations for fine-tuning: %s\n", e.what());
      split = 0;
    }
  }
  if (split > 0) {
    frozen.whole_or_bottom = std::make_unique<FrozenFeatures>(run.net, run.spec.image_size, run.precision, split);
    frozen.top = std::make_unique<FrozenFeatures>(run.net, run.spec.image_size, run.precision, size_t(-1), split);
  } else {
    // BatchNorm folded: the backbone does not change here.
    frozen.whole_or_bottom = std::make_unique<FrozenFeatures>(run.net, run.spec.image_size, run.precision);
  }
  std::vector<torch::Tensor> kept_train;
  torch::Tensor kept, kept_val;
  auto train_x = pooled_features(run, frozen, train, nullptr, 0, "features (train)",
                                 split > 0 && !aug.transform ? &kept : nullptr);
  if (kept.defined()) kept_train.push_back(kept);
  auto train_y = cache_labels(train);
  for (int c = 1; c <= copies; ++c) {
    kept = torch::Tensor();
    train_x = torch::cat({train_x, pooled_features(run, frozen, train, aug.transform, c,
                                                   "features (augmented copy " + std::to_string(c) + ")",
                                                   split > 0 && c <= keep ? &kept : nullptr)});
    if (kept.defined()) kept_train.push_back(kept);
    train_y = torch::cat({train_y, cache_labels(train)});
  }
  auto val_x = pooled_features(run, frozen, val, nullptr, 0, "features (validation)", split > 0 ? &kept_val : nullptr);
  auto val_y = cache_labels(val);
  if (split > 0) {
    run.activations = std::make_shared<ActivationCache>(std::move(kept_train), kept_val);
    run.activations_split = split;
    if (run.opt.progress)
      std::fprintf(stderr, "activation cache: kept %s of the output of the first %zu stages for fine-tuning, %.0f MiB (%s)\n",
                   plural(run.activations->copies(), "copy", "copies").c_str(), split,
                   double(run.activations->bytes()) / (1 << 20), run.activations->stored_type() == torch::kBFloat16 ? "bf16" : "fp32");
  }
  result.feature_seconds_per_image = seconds_since(t0) / double(train.size() * size_t(1 + copies) + val.size());
  result.metadata["feature_copies"] = copies;
  if (phase.kind == PhaseKind::Probe) {
    // The linear probe: logistic regression to convergence, its L2 strength chosen on validation.
    // That L2 is its regularization: dropout in front of it (fitted without) would only add noise
    // to its logits when fine-tuning starts from it, so the head has none.
    run.spec.head.dropout = 0;
    run.net->head()->set_dropout(0);
    const auto t_fit = Clock::now();
    LogisticFit fit = fit_logistic_regression(train_x, train_y, val_x, val_y, int64_t(run.spec.classes.size()));
    {
      torch::NoGradGuard no_grad;
      auto params = run.net->head()->named_parameters();
      params["fc.weight"].copy_(fit.weight);
      params["fc.bias"].copy_(fit.bias);
    }
    // The ranks fitted the same features; rank 0's head makes them agree to the last bit.
    if (run.dist) run.dist->broadcast(run.net->head()->parameters());
    EpochRecord rec;
    rec.phase = "probe";
    rec.train_loss = fit.train_loss;
    rec.train_accuracy = fit.train_accuracy;
    rec.val_loss = fit.val_loss;
    rec.val_accuracy = fit.val_accuracy;
    rec.seconds = seconds_since(t0);
    rec.images_per_second = double(train_x.size(0)) / std::max(1e-9, seconds_since(t_fit));
    if (run.opt.progress)
      std::fprintf(stderr, "linear probe (logistic regression, L-BFGS, l2 %.0e chosen on validation): val_acc %.4f (%.1f s)\n",
                   fit.l2, fit.val_accuracy, rec.seconds);
    result.metadata["head_solver"] = "lbfgs";
    result.metadata["head_l2"] = fit.l2;
    run.state.end_epoch(rec);
  } else {
    train_head_on_features(run, phase.epochs, train_x, train_y, val_x, val_y);
    if (run.dist) run.dist->broadcast(run.net->head()->parameters());
    result.metadata["head_solver"] = "epochs";
  }
  if (run.state.best_epoch > 0) {
    result.val_accuracy = run.state.history[size_t(run.state.best_epoch - 1)].val_accuracy;
    result.val_loss = run.state.best_val_loss;
  }
  result.seconds = seconds_since(t0);
  return result;
}

std::shared_ptr<ActivationCache> compute_activation_cache(Run& run, const PhasePlan& phase, const ImageCache& train,
                                                          const ImageCache& val, const Augmentation& aug) {
  const int n_stages = int(run.net->backbone()->stages().size());
  const size_t first_trainable = size_t(n_stages - std::min(phase.unfreeze, n_stages));
  return std::make_shared<ActivationCache>(run.net, run.spec.image_size, run.spec.normalization, train, val, aug.transform,
                                           cache_options(run, phase, first_trainable, bool(aug.transform)), run.device,
                                           run.interrupted);
}

nlohmann::json fine_tune_phase(Run& run, const PhasePlan& phase, const ImageCache& train, const ImageCache& val,
                               const Augmentation& aug) {
  nlohmann::json meta;
  // Continue from the best head (the probe's, or the best head epoch).
  ModelFile best = load_model_file(run.opt.output);
  load_state_dict(*run.net, best.weights, run.opt.output);
  run.net->to(run.device);
  auto backbone = run.net->backbone();
  const int n_stages = int(backbone->stages().size());
  const int n = std::min(phase.unfreeze, n_stages);
  const size_t first_trainable = size_t(n_stages - n);

  // The frozen stages' output: the probe's, or computed here as the probe would have (the same
  // copies, from the network before the folding below), so a resumed run trains on the same tensors.
  std::shared_ptr<ActivationCache> acts;
  if (phase.cache_bottom && first_trainable > 0) {
    meta["activation_cache_from_probe"] = run.activations && run.activations_split == first_trainable;
    if (meta["activation_cache_from_probe"].get<bool>()) {
      acts = std::move(run.activations);
    } else {
      try {
        acts = compute_activation_cache(run, phase, train, val, aug);
      } catch (const Error& e) {
        if (run.interrupted && run.interrupted()) throw;
        std::fprintf(stderr, "note: fine-tuning without the activation cache: %s\n", e.what());
      }
    }
    if (acts && run.opt.progress)
      std::fprintf(stderr, "activation cache: %s of the frozen stages' output, %.0f MiB (%s)\n",
                   plural(acts->copies(), "copy", "copies").c_str(), double(acts->bytes()) / (1 << 20),
                   acts->stored_type() == torch::kBFloat16 ? "bf16" : "fp32");
    if (acts) meta["activation_cache_copies"] = acts->copies();
  }
  run.activations.reset();
  // The backbone's BatchNorm stays in inference mode, so each one is a fixed per-channel scale; in
  // ImageNet MobileNets some scales are large (tiny running variances), and Adam, which moves every
  // weight by about the learning rate, then changes those channels many times more than the others:
  // validation fell for the first fine-tune epochs (cats vs dogs val_loss 0.09 → 0.60). Folding the
  // scales into the convolutions first computes the same function and moves every channel alike.
  const int folded = fold_batchnorm_scales(*backbone);
  meta["batchnorm_scales_folded"] = folded;
  // Resuming mid-phase: the network as the last completed epoch left it.
  if (run.resumed_epochs() > 0) run.resume->restore_network(*run.net);
  auto backbone_params = unfreeze_last_stages(backbone, n);
  std::vector<torch::Tensor> head_params = run.net->head()->parameters();
  for (auto& p : head_params) p.set_requires_grad(true);
  const double head_lr = run.plan.lr, backbone_lr = run.plan.backbone_lr;
  auto optimizer = make_optimizer(run.optimizer_spec(), {backbone_params, head_params}, {backbone_lr, head_lr});
  meta["unfrozen_stages"] = n;
  meta["backbone_learning_rate"] = backbone_lr;

  LoaderOptions lo;
  lo.batch_size = run.opt.batch_size;
  lo.shuffle = true;
  lo.threads = run.threads;
  lo.seed = run.opt.seed;
  lo.rank = run.rank();
  lo.world = run.world();

  meta["activation_cache"] = bool(acts);
  if (run.opt.progress)
    std::fprintf(stderr, "fine-tune: %d of %d backbone stages trainable (%zu tensors), lr %.2g (head %.2g)%s\n", n, n_stages,
                 backbone_params.size(), backbone_lr, head_lr, acts ? ", frozen stages cached" : "");

  EpochLoop loop;
  loop.phase = "fine-tune";
  loop.epochs = phase.epochs;
  loop.schedule = phase.schedule;
  loop.base_lrs = {backbone_lr, head_lr};
  // Keras trainable=False semantics: BatchNorm stays in inference mode in the backbone.
  loop.set_modes = [&] {
    run.net->train();
    run.net->backbone()->eval();
  };
  Classifier net = run.net;
  const int batch = std::max(64, run.opt.batch_size);
  if (acts) {
    const size_t last = size_t(n_stages);
    loop.forward = [net, first_trainable, last](const torch::Tensor& x) mutable {
      return net->head()->forward(net->run_stages(x, first_trainable, last));
    };
    const torch::Tensor labels = cache_labels(val);
    loop.validate = [&, net, first_trainable, last]() mutable {
      net->eval();
      // This rank's rows (every world-th; all of them in a single process).
      const auto rows = torch::arange(run.rank(), acts->validation().size(0), run.world(), torch::kInt64);
      const auto v = acts->validation().index_select(0, rows);
      const auto vy = labels.index_select(0, rows);
      double loss = 0, correct = 0;
      for (int64_t i = 0; i < v.size(0); i += batch) {
        auto x = v.slice(0, i, std::min(v.size(0), i + batch)).to(run.device, torch::kFloat);
        auto logits = net->head()->forward(net->run_stages(x, first_trainable, last)).to(torch::kCPU, torch::kFloat);
        auto y = vy.slice(0, i, i + logits.size(0));
        loss += F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
        correct += double(logits.argmax(1).eq(y).sum().item<long>());
      }
      double n = double(v.size(0));
      if (run.dist) {
        auto sums = torch::tensor({loss, correct, n}, torch::kFloat64);
        run.dist->all_reduce_sum({sums});
        loss = sums[0].item<double>();
        correct = sums[1].item<double>();
        n = sums[2].item<double>();
      }
      return std::make_pair(loss / std::max(1.0, n), correct / std::max(1.0, n));
    };
    ActivationSource source(*acts, train, cache_labels(train), run.spec.normalization, lo);
    run_epochs(run, loop, source, *optimizer);
  } else {
    train_on_images(run, loop, train, val, aug, lo, *optimizer);
  }
  return meta;
}

void train_phase(Run& run, const PhasePlan& phase, const ImageCache& train, const ImageCache& val,
                 const Augmentation& aug) {
  if (run.resumed_epochs() > 0) run.resume->restore_network(*run.net);
  std::vector<torch::Tensor> params = run.net->parameters();
  for (auto& p : params) p.set_requires_grad(true);
  auto optimizer = make_optimizer(run.optimizer_spec(), {params}, {run.plan.lr});
  LoaderOptions lo;
  lo.batch_size = run.opt.batch_size;
  lo.shuffle = true;
  lo.threads = run.threads;
  lo.seed = run.opt.seed;
  lo.rank = run.rank();
  lo.world = run.world();
  EpochLoop loop;
  loop.phase = "train";
  loop.epochs = phase.epochs;
  loop.base_lrs = {run.plan.lr};
  loop.schedule = phase.schedule;
  Classifier net = run.net;
  loop.set_modes = [net]() mutable { net->train(); };
  train_on_images(run, loop, train, val, aug, lo, *optimizer);
}

std::vector<torch::Tensor> unfreeze_last_stages(Backbone& backbone, int n) {
  const auto stages = backbone->stages();
  n = std::clamp(n, 0, int(stages.size()));
  std::vector<std::string> open(stages.end() - n, stages.end());
  std::vector<torch::Tensor> trainable;
  for (auto& p : backbone->named_parameters()) {
    bool on = false;
    for (const auto& prefix : open) {
      // "features.1" must not open "features.10": the prefix has to end at a name boundary.
      const std::string& key = p.key();
      if (key.rfind(prefix, 0) != 0) continue;
      const char last = prefix.back(), next = key.size() > prefix.size() ? key[prefix.size()] : '.';
      if (last == '.' || last == '_' || !std::isalnum(static_cast<unsigned char>(next))) on = true;
    }
    p.value().set_requires_grad(on);
    if (on) trainable.push_back(p.value());
  }
  return trainable;
}

}  // namespace imagefit

#include "train/trainer.h"

#include <torch/torch.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "core/history.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "models/device.h"
#include "report/curves.h"
#include "models/input_tensor.h"
#include "models/simple_cnn.h"
#include "train/augmentation.h"
#include "train/batch_loader.h"
#include "train/image_cache.h"
#include "train/optimizer.h"
#include "train/scoring.h"
#include "train/logistic_regression.h"
#include "weights/catalog.h"
#include "weights/model_file.h"
#include "weights/pretrained.h"
#include "weights/state_dict.h"
#include "weights/saved_model.h"

namespace imagefit {

namespace {

namespace F = torch::nn::functional;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Everything a run shares between its phases.
struct Run {
  const TrainOptions& opt;
  const std::function<bool()>& interrupted;
  torch::Device device;
  NetworkSpec spec;
  Classifier net{nullptr};
  nlohmann::json metadata;
  History history;
  double best_val_loss = INFINITY;
  int best_epoch = 0;
  bool stopped = false;  // interrupted or early-stopped
  std::string stop_reason;
  int epochs_without_improvement = 0;
  std::filesystem::path history_path, curves_path;
  int threads;

  bool should_stop() const { return interrupted && interrupted(); }

  // Records an epoch; saves the model when val_loss improved. Returns true if training should stop.
  bool end_epoch(EpochRecord rec) {
    rec.epoch = int(history.size()) + 1;
    history.push_back(rec);
    const bool improved = rec.val_loss < best_val_loss;
    if (improved) {
      best_val_loss = rec.val_loss;
      best_epoch = rec.epoch;
      epochs_without_improvement = 0;
      save();
    } else {
      ++epochs_without_improvement;
    }
    atomic_write_text(history_path, history_to_csv(history));
    // The tutorial's two plots (accuracy and loss per epoch, best epoch marked), kept current.
    try {
      write_curves_png(history, spec.arch + " on " + opt.data, curves_path.string());
    } catch (const Error& e) {
      std::fprintf(stderr, "warning: could not write %s: %s\n", curves_path.string().c_str(), e.what());
    }
    if (opt.progress)
      std::fprintf(stderr,
                   "epoch %3d %-9s loss %.4f acc %.4f | val_loss %.4f val_acc %.4f | %.1fs %.0f img/s%s\n",
                   rec.epoch, rec.phase.c_str(), rec.train_loss, rec.train_accuracy, rec.val_loss, rec.val_accuracy,
                   rec.seconds, rec.images_per_second, improved ? "  * saved (best val_loss)" : "");
    if (opt.patience > 0 && epochs_without_improvement >= opt.patience) {
      stopped = true;
      stop_reason = "early stopping: val_loss did not improve for " + std::to_string(opt.patience) + " epochs";
      return true;
    }
    return false;
  }

  void save() {
    nlohmann::json meta = metadata;
    meta["training"]["history_csv"] = history_path.filename().string();
    meta["training"]["best_epoch"] = best_epoch;
    meta["training"]["epochs_run"] = history.size();
    meta["training"]["val_loss"] = best_val_loss;
    meta["training"]["val_accuracy"] = history[best_epoch - 1].val_accuracy;
    save_model(opt.output, spec, meta, net);
  }
};

// Trains the whole network (or its trainable part) on images, one phase of `epochs` epochs.
void train_on_images(Run& run, const std::string& phase, int epochs, const ImageCache& train, const ImageCache& val,
                     torch::optim::Optimizer& optimizer, const std::vector<double>& base_lrs,
                     const SampleTransform& transform, bool backbone_eval_mode) {
  LoaderOptions lo;
  lo.batch_size = run.opt.batch_size;
  lo.shuffle = true;
  lo.threads = run.threads;
  lo.seed = run.opt.seed;
  BatchLoader loader(train, run.spec.normalization, transform, lo);
  const size_t steps_per_epoch = loader.batches_per_epoch();
  const size_t total_steps = steps_per_epoch * size_t(epochs);
  size_t step = 0;
  const int first_epoch = int(run.history.size());
  for (int e = 0; e < epochs && !run.stopped; ++e) {
    const auto t0 = Clock::now();
    run.net->train();
    if (backbone_eval_mode) run.net->backbone()->eval();  // Keras trainable=False: BatchNorm in inference mode
    loader.start_epoch(first_epoch + e);
    ProgressBar bar("epoch " + std::to_string(first_epoch + e + 1) + " " + phase, long(loader.samples_per_epoch()));
    double loss_sum = 0;
    long correct = 0, seen = 0;
    while (auto batch = loader.next()) {
      // Warm-up then cosine decay across the phase when it fine-tunes a pretrained network.
      if (phase == "fine-tune") {
        const double warm = std::max<size_t>(1, steps_per_epoch);
        double factor = step < warm ? double(step + 1) / warm
                                    : 0.5 * (1 + std::cos(M_PI * double(step - warm) / std::max(1.0, double(total_steps - warm))));
        std::vector<double> lrs;
        for (double lr : base_lrs) lrs.push_back(lr * factor);
        set_learning_rates(optimizer, lrs);
      }
      auto images = batch->images.to(run.device);
      auto labels = batch->labels.to(run.device);
      optimizer.zero_grad();
      auto logits = run.net->forward(images);
      auto loss = F::cross_entropy(logits, labels);
      loss.backward();
      optimizer.step();
      const long n = long(labels.size(0));
      loss_sum += loss.item<double>() * n;
      correct += logits.argmax(1).eq(labels).sum().item<long>();
      seen += n;
      ++step;
      char suffix[96];
      std::snprintf(suffix, sizeof suffix, "loss %.4f acc %.4f", loss_sum / seen, double(correct) / seen);
      if (run.opt.progress) bar.update(seen, suffix);
      if (run.should_stop()) break;
    }
    if (run.should_stop()) {
      run.stopped = true;
      run.stop_reason = "interrupted";
      if (run.opt.progress) bar.finish("(interrupted)");
      break;
    }
    const double train_seconds = seconds_since(t0);
    if (run.opt.progress) bar.finish();
    Scores v = score_images(run.net, val, run.spec.normalization, std::max(64, run.opt.batch_size), run.device, run.threads);
    EpochRecord rec;
    rec.phase = phase;
    rec.train_loss = loss_sum / std::max(1L, seen);
    rec.train_accuracy = double(correct) / std::max(1L, seen);
    rec.val_loss = v.loss;
    rec.val_accuracy = v.accuracy;
    rec.learning_rate = optimizer.param_groups().back().options().get_lr();
    rec.seconds = seconds_since(t0);
    rec.images_per_second = seen / std::max(1e-9, train_seconds);
    if (!std::isfinite(rec.train_loss))
      throw Error("training diverged (loss is " + std::to_string(rec.train_loss) + "); try a smaller --lr");
    if (run.end_epoch(rec)) break;
  }
}

// Pooled backbone features of every cached image (frozen backbone, eval mode).
torch::Tensor pooled_features(Run& run, FrozenFeatures& frozen, const ImageCache& cache,
                              const SampleTransform& transform, int copy, const std::string& label) {
  torch::NoGradGuard no_grad;
  run.net->eval();
  LoaderOptions lo;
  lo.batch_size = 64;
  lo.shuffle = false;
  lo.threads = run.threads;
  lo.seed = mix_seed({run.opt.seed, 0xFEA7, uint64_t(copy)});
  BatchLoader loader(cache, run.spec.normalization, transform, lo);
  loader.start_epoch(copy);
  std::vector<torch::Tensor> parts;
  ProgressBar bar(label, long(cache.size()));
  long seen = 0;
  while (auto batch = loader.next()) {
    auto fmap = frozen(batch->images.to(run.device));
    parts.push_back(run.net->head()->pool(fmap).to(torch::kCPU));
    seen += batch->images.size(0);
    if (run.opt.progress) bar.update(seen);
    if (run.should_stop()) throw Error("interrupted while computing features");
  }
  if (run.opt.progress) bar.finish();
  return torch::cat(parts);
}

torch::Tensor cache_labels(const ImageCache& cache) {
  auto t = torch::empty({int64_t(cache.size())}, torch::kInt64);
  for (size_t i = 0; i < cache.size(); ++i) t[int64_t(i)] = cache.label(i);
  return t;
}

// Trains the head on precomputed features: seconds instead of minutes, since the frozen backbone
// runs once per image.
void train_head_on_features(Run& run, int epochs, const torch::Tensor& train_x, const torch::Tensor& train_y,
                            const torch::Tensor& val_x, const torch::Tensor& val_y, double lr) {
  auto head = run.net->head();
  OptimizerSpec os{run.opt.optimizer.empty() ? "adam" : run.opt.optimizer, lr, run.opt.weight_decay, run.opt.momentum};
  std::vector<torch::Tensor> params;
  for (auto& p : head->parameters()) params.push_back(p);
  auto optimizer = make_optimizer(os, {params}, {lr > 0 ? lr : default_learning_rate(os.name)});
  auto tx = train_x.to(run.device), ty = train_y.to(run.device), vx = val_x.to(run.device), vy = val_y.to(run.device);
  const int64_t n = tx.size(0);
  for (int e = 0; e < epochs && !run.stopped; ++e) {
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
      auto loss = F::cross_entropy(logits, y);
      loss.backward();
      optimizer->step();
      loss_sum += loss.item<double>() * double(idx.size(0));
      correct += logits.argmax(1).eq(y).sum().item<long>();
    }
    if (run.should_stop()) {
      run.stopped = true;
      run.stop_reason = "interrupted";
      break;
    }
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
    if (run.end_epoch(rec)) break;
  }
}

// Marks the last `n` stages of the backbone trainable (all others frozen). Returns their parameters.
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

}  // namespace

nlohmann::json train_model(const TrainOptions& opt, const std::function<bool()>& interrupted) {
  const auto t_start = Clock::now();
  const int threads = opt.threads > 0 ? opt.threads : hardware_threads();
  torch::set_num_threads(threads);
  torch::manual_seed(int64_t(opt.seed));
  if (opt.batch_size < 1) throw Error("--batch-size must be at least 1");
  // --unfreeze: "all" or a positive number of stages (checked now, not after the features are computed).
  const bool unfreeze_all = opt.unfreeze == "all";
  int unfreeze_stages = 0;
  if (!unfreeze_all) {
    size_t used = 0;
    try {
      unfreeze_stages = std::stoi(opt.unfreeze, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != opt.unfreeze.size() || unfreeze_stages < 1)
      throw Error("--unfreeze takes 'all' or a number of backbone stages (1 or more), got '" + opt.unfreeze + "'");
  }

  Run run{opt, interrupted, resolve_device(opt.device), {}, nullptr, {}, {}, INFINITY, 0, false, {}, 0, {}, {}, threads};

  // Data: train / validation (taken from train when missing) / test.
  Dataset ds = open_dataset(opt.data);
  std::string val_source = "validation folder";
  if (!ds.has_validation()) {
    auto [keep, taken] = split_stratified(ds.train, opt.val_split, opt.seed);
    ds.train = keep;
    ds.validation = taken;
    val_source = "--val-split " + std::to_string(opt.val_split).substr(0, 4) + " of train";
    if (ds.validation.images.empty()) throw Error(opt.data + ": too few images to take a validation split from");
  }

  // Network: a pretrained backbone from --weights, or an architecture from the registry.
  NetworkSpec& spec = run.spec;
  spec.classes = ds.classes;
  spec.head.dropout = opt.dropout;
  spec.resize = resize_mode_from_string(opt.resize);
  spec.head.hidden = opt.head_hidden;
  Backbone pretrained_backbone;
  std::string strategy = opt.strategy;
  std::string weights_description;
  std::string weights_file = opt.weights;
  if (weights_file.empty() && opt.arch.empty() && (strategy == "auto" || strategy == "feature-extract" ||
                                                   strategy == "fine-tune")) {
    // No model named: the best pretrained backbone already on this machine, else from scratch.
    if (auto cached = best_cached_backbone()) {
      weights_file = cached->path.string();
      if (opt.progress)
        std::fprintf(stderr, "using the pretrained backbone %s (%s); --arch simple-cnn trains from scratch\n",
                     cached->entry.name.c_str(), weights_file.c_str());
    } else if (strategy == "auto" && opt.progress) {
      std::fprintf(stderr, "training simple-cnn from scratch: no pretrained backbone in %s (imagefit weights fetch "
                           "mobilenet_v2 gets one; --weights FILE uses a file you have)\n",
                   weights_cache_dir().string().c_str());
    }
  }
  if (!weights_file.empty()) {
    Pretrained p = load_pretrained(weights_file, opt.arch);
    pretrained_backbone = p.backbone;
    spec.arch = p.arch;
    spec.backbone = p.options;
    weights_description = p.description;
    if (opt.progress) std::fprintf(stderr, "backbone: %s from %s\n", p.description.c_str(), weights_file.c_str());
  } else {
    spec.arch = opt.arch.empty() ? "simple-cnn" : opt.arch;
    find_architecture(spec.arch);  // validates the name
  }
  const bool transfer = bool(pretrained_backbone);
  if (strategy == "auto" && !transfer) strategy = "scratch";
  if (!transfer && strategy != "scratch")
    throw Error("--strategy " + strategy +
                " needs a pretrained backbone: --weights FILE, or `imagefit weights fetch NAME` to cache one");
  if (strategy != "scratch" && strategy != "feature-extract" && strategy != "fine-tune" && strategy != "auto")
    throw Error("unknown --strategy '" + strategy + "' (auto, scratch, feature-extract, fine-tune)");

  if (spec.arch == "simple-cnn") {
    spec.head.pooling = "flatten";
    spec.image_size = opt.image_size > 0 ? opt.image_size : 180;
  } else {
    spec.head.pooling = "avg";
  }
  spec.backbone.image_size = opt.image_size;
  if (transfer) {
    spec.normalization = pretrained_backbone->input_spec().normalization;
    spec.image_size = opt.image_size > 0 ? opt.image_size : pretrained_backbone->input_spec().default_size;
    spec.backbone.image_size = spec.image_size;
    spec.head.classes = int64_t(spec.classes.size());
    spec.head.in_features = pretrained_backbone->feature_channels();
    run.net = Classifier(pretrained_backbone, spec.head);
  } else {
    run.net = build_network(spec);
    if (spec.arch == "simple-cnn") init_like_keras(*run.net);  // the tutorial's Keras model, as Keras starts it
    spec.normalization = run.net->backbone()->input_spec().normalization;
    if (spec.arch != "simple-cnn") spec.image_size = opt.image_size > 0 ? opt.image_size : run.net->backbone()->input_spec().default_size;
  }
  run.net->to(run.device);

  // Augmentation: light by default for transfer learning, none from scratch.
  const std::string augment_spec = opt.augment == "auto" ? (transfer ? "light" : "none") : opt.augment;
  Augmentation aug = make_augmentation(augment_spec, spec.image_size);
  if (opt.progress && opt.augment == "auto" && transfer)
    std::fprintf(stderr, "augmentation: light (the default for transfer learning; --augment none turns it off)\n");

  const int epochs = opt.epochs > 0 ? opt.epochs : (transfer ? 10 : 30);
  std::filesystem::path out_path(opt.output);
  run.history_path = out_path.parent_path() / (out_path.stem().string() + ".history.csv");
  run.curves_path = out_path.parent_path() / (out_path.stem().string() + ".curves.png");

  if (opt.progress) {
    std::fprintf(stderr, "data: %s: %zu classes, train %zu, validation %zu (%s), test %zu\n", opt.data.c_str(),
                 ds.classes.size(), ds.train.images.size(), ds.validation.images.size(), val_source.c_str(),
                 ds.test.images.size());
    std::fprintf(stderr, "model: %s, %dx%d, strategy %s, %d epochs, batch %d, %d threads, device %s\n",
                 spec.arch.c_str(), spec.image_size, spec.image_size, strategy.c_str(), epochs, opt.batch_size, threads,
                 run.device.str().c_str());
  }

  ImageCache train_cache(ds.train, spec.image_size, spec.resize, threads, opt.strict, size_t(3) << 30, opt.progress);
  ImageCache val_cache(ds.validation, spec.image_size, spec.resize, threads, opt.strict, size_t(1) << 30, opt.progress);

  run.metadata = {{"imagefit_version", "0.1.0"},
                  {"created", std::to_string(std::time(nullptr))},
                  {"training",
                   {{"data", opt.data},
                    {"strategy", strategy},
                    {"epochs", epochs},
                    {"batch_size", opt.batch_size},
                    {"seed", opt.seed},
                    {"augment", aug.json},
                    {"resize", to_string(spec.resize)},
                    {"weights", weights_file},
                    {"weights_description", weights_description},
                    {"train_images", train_cache.size()},
                    {"validation_images", val_cache.size()},
                    {"validation_source", val_source}}}};

  OptimizerSpec os{opt.optimizer.empty() ? (transfer ? "adam" : "rmsprop") : opt.optimizer, opt.lr, opt.weight_decay,
                   opt.momentum};
  const double lr = opt.lr > 0 ? opt.lr : default_learning_rate(os.name);
  run.metadata["training"]["optimizer"] = os.name;
  run.metadata["training"]["learning_rate"] = lr;

  if (strategy == "scratch") {
    std::vector<torch::Tensor> params = run.net->parameters();
    auto optimizer = make_optimizer(os, {params}, {lr});
    train_on_images(run, "train", epochs, train_cache, val_cache, *optimizer, {lr}, aug.transform, false);
  } else {
    // Phase 1: frozen backbone, head trained on features computed once.
    for (auto& p : run.net->backbone()->parameters()) p.set_requires_grad(false);
    FrozenFeatures frozen(run.net, spec.image_size);  // BatchNorm folded: the backbone does not change here
    auto train_x = pooled_features(run, frozen, train_cache, nullptr, 0, "features (train)");
    auto train_y = cache_labels(train_cache);
    const int copies = aug.transform ? 4 : 0;  // augmented copies of the training features
    for (int c = 1; c <= copies; ++c) {
      train_x = torch::cat({train_x, pooled_features(run, frozen, train_cache, aug.transform, c,
                                                     "features (augmented copy " + std::to_string(c) + ")")});
      train_y = torch::cat({train_y, cache_labels(train_cache)});
    }
    auto val_x = pooled_features(run, frozen, val_cache, nullptr, 0, "features (validation)");
    auto val_y = cache_labels(val_cache);
    run.metadata["training"]["feature_copies"] = copies;
    if (spec.head.hidden == 0 && opt.head_solver != "epochs") {
      // The linear probe: logistic regression to convergence, its L2 strength chosen on validation.
      // That L2 is its regularization: dropout in front of it (fitted without) would only add noise
      // to its logits when fine-tuning starts from it, so the head has none.
      spec.head.dropout = 0;
      run.net->head()->set_dropout(0);
      const auto t0 = Clock::now();
      LogisticFit fit = fit_logistic_regression(train_x, train_y, val_x, val_y, int64_t(spec.classes.size()));
      {
        torch::NoGradGuard no_grad;
        auto params = run.net->head()->named_parameters();
        params["fc.weight"].copy_(fit.weight);
        params["fc.bias"].copy_(fit.bias);
      }
      EpochRecord rec;
      rec.phase = "head";
      rec.train_loss = fit.train_loss;
      rec.train_accuracy = fit.train_accuracy;
      rec.val_loss = fit.val_loss;
      rec.val_accuracy = fit.val_accuracy;
      rec.seconds = seconds_since(t0);
      rec.images_per_second = double(train_x.size(0)) / std::max(1e-9, rec.seconds);
      if (opt.progress)
        std::fprintf(stderr, "linear probe (logistic regression, L-BFGS, l2 %.0e chosen on validation): val_acc %.4f\n",
                     fit.l2, fit.val_accuracy);
      run.metadata["training"]["head_solver"] = "lbfgs";
      run.metadata["training"]["head_l2"] = fit.l2;
      run.end_epoch(rec);
    } else {
      const int head_epochs = strategy == "feature-extract" ? epochs : std::max(5, epochs / 3);
      train_head_on_features(run, head_epochs, train_x, train_y, val_x, val_y, lr);
      run.metadata["training"]["head_solver"] = "epochs";
    }
    const double probe_accuracy = run.history.empty() ? 0.0 : run.history.back().val_accuracy;

    if (strategy == "auto") {
      // MISSION §4's table: features that already separate the classes → keep the linear head (more
      // training mostly overfits small data); otherwise fine-tune the top of the backbone, which
      // keeps the probe's result anyway if it does not beat it on validation.
      const bool features_fit = probe_accuracy >= 0.985;
      strategy = features_fit ? "feature-extract" : "fine-tune";
      if (opt.progress)
        std::fprintf(stderr, "strategy auto: linear probe reaches %.1f%% on validation (%zu training images); %s\n",
                     100 * probe_accuracy, train_cache.size(),
                     features_fit ? "ImageNet features already fit this task: feature-extract (frozen backbone)"
                                  : "fine-tuning the backbone can do better: fine-tune");
      run.metadata["training"]["strategy"] = "auto: " + strategy;
      run.metadata["training"]["probe_val_accuracy"] = probe_accuracy;
    }

    if (strategy == "fine-tune" && !run.stopped) {
      // Phase 2: continue from the best head; train it with the unfrozen backbone stages (all of them by
      // default), the backbone at a 10× smaller learning rate. Measured on sign digits with
      // MobileNetV2-0.35 (docs/RESULTS.md): all stages at 1e-4 with the head at 1e-3 reach 0.968 test,
      // against 0.945 for the last third at 1e-5 (head 1e-4): far-from-ImageNet images need the
      // early layers to move too.
      ModelFile best = load_model_file(opt.output);
      load_state_dict(*run.net, best.weights, opt.output);
      run.net->to(run.device);
      const int n_stages = int(run.net->backbone()->stages().size());
      const int n = unfreeze_all ? n_stages : std::min(unfreeze_stages, n_stages);
      auto backbone = run.net->backbone();
      auto backbone_params = unfreeze_last_stages(backbone, n);
      std::vector<torch::Tensor> head_params = run.net->head()->parameters();
      const double head_lr = lr, backbone_lr = opt.backbone_lr > 0 ? opt.backbone_lr : lr / 10;
      auto optimizer = make_optimizer(os, {backbone_params, head_params}, {backbone_lr, head_lr});
      if (opt.progress)
        std::fprintf(stderr, "fine-tune: %d of %d backbone stages trainable (%zu tensors), lr %.2g (head %.2g)\n", n,
                     n_stages, backbone_params.size(), backbone_lr, head_lr);
      run.metadata["training"]["unfrozen_stages"] = n;
      run.metadata["training"]["backbone_learning_rate"] = backbone_lr;
      train_on_images(run, "fine-tune", std::max(1, epochs - int(run.history.size())), train_cache, val_cache, *optimizer,
                      {backbone_lr, head_lr}, aug.transform, /*backbone_eval_mode=*/true);
    }
  }

  if (run.history.empty()) throw Error("training stopped before the first epoch finished; no model written");

  // Best model by val_loss, then the test split.
  SavedModel best = load_model(opt.output);
  best.network->to(run.device);
  nlohmann::json summary = {{"model", opt.output},
                            {"arch", spec.arch},
                            {"strategy", strategy},
                            {"classes", spec.classes},
                            {"image_size", spec.image_size},
                            {"best_epoch", run.best_epoch},
                            {"epochs_run", run.history.size()},
                            {"val_loss", run.best_val_loss},
                            {"val_accuracy", run.history[run.best_epoch - 1].val_accuracy},
                            {"test_loss", nullptr},
                            {"test_accuracy", nullptr},
                            {"history", run.history_path.string()},
                            {"curves", run.curves_path.string()},
                            {"stopped", run.stop_reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(run.stop_reason)}};
  if (ds.has_test() && !(interrupted && interrupted())) {
    ImageCache test_cache(ds.test, spec.image_size, spec.resize, threads, opt.strict, size_t(1) << 30, opt.progress);
    FrozenFeatures frozen(best.network, spec.image_size);
    Scores t = score_images(best.network, test_cache, spec.normalization, std::max(64, opt.batch_size), run.device,
                            threads, opt.progress ? "test" : "", &frozen);
    summary["test_loss"] = t.loss;
    summary["test_accuracy"] = t.accuracy;
    summary["test_images"] = test_cache.size();
    best.metadata["training"]["test_loss"] = t.loss;
    best.metadata["training"]["test_accuracy"] = t.accuracy;
  }
  summary["seconds"] = seconds_since(t_start);
  best.metadata["training"]["seconds"] = summary["seconds"];
  // Settings decided after the best epoch was saved (the strategy `auto` chose, ...).
  for (const auto& [key, value] : run.metadata["training"].items())
    if (!best.metadata["training"].contains(key) || key == "strategy") best.metadata["training"][key] = value;
  best.metadata["training"]["epochs_run"] = run.history.size();
  // The whole history (not only up to the best epoch) travels in the model, for reports.
  best.metadata["training"]["history"] = history_to_csv(run.history);
  if (!run.stop_reason.empty()) best.metadata["training"]["stopped"] = run.stop_reason;
  save_model(opt.output, best.spec, best.metadata, best.network);
  return summary;
}

}  // namespace imagefit

#include "train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>

#include "core/error.h"
#include "core/fs.h"
#include "core/parallel.h"
#include "core/text.h"
#include "data/check.h"
#include "data/dataset.h"
#include "models/device.h"
#include "models/frozen_features.h"
#include "models/simple_cnn.h"
#include "train/augmentation.h"
#include "train/calibrate.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/image_cache.h"
#include "train/phases.h"
#include "train/plan.h"
#include "train/scoring.h"
#include "weights/catalog.h"
#include "weights/pretrained.h"
#include "weights/saved_model.h"

namespace imagefit {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Seconds per image of the operations the plan's time estimate needs, timed on this machine with a
// few images (after one warm-up call, which also primes oneDNN's kernels for the real run).
CostFacts measure_costs(Classifier& net, const NetworkSpec& spec, const ImageSet& train, Precision precision,
                        const torch::Device& device, int threads) {
  CostFacts c;
  const size_t n_decode = std::min<size_t>(train.images.size(), 8);
  ImageSet few = train;
  few.images.resize(n_decode);
  auto t0 = Clock::now();
  ImageCache decoded(few, spec.image_size, spec.resize, threads, false, size_t(1) << 30, false);
  c.decode = seconds_since(t0) / double(std::max<size_t>(1, n_decode));
  const int64_t b = 8;
  auto x = torch::randn({b, 3, spec.image_size, spec.image_size}, torch::TensorOptions().device(device));
  {
    FrozenFeatures frozen(net, spec.image_size, precision);
    // TorchScript's profiling executor optimizes the graph during the first calls: time a later one.
    for (int rep = 0; rep < 3; ++rep) frozen(x);
    t0 = Clock::now();
    frozen(x);
    c.frozen_forward = seconds_since(t0) / double(b);
  }
  // One training step of the whole network, gradients thrown away.
  std::vector<bool> grad;
  for (auto& p : net->parameters()) {
    grad.push_back(p.requires_grad());
    p.set_requires_grad(true);
  }
  net->train();
  c.train_step = 1e300;
  for (int rep = 0; rep < 3; ++rep) {
    t0 = Clock::now();
    torch::Tensor loss;
    {
      AutocastScope autocast(precision, device.is_cuda());
      loss = net->forward(x).to(torch::kFloat).logsumexp(1).mean();
    }
    loss.backward();
    c.train_step = std::min(c.train_step, seconds_since(t0) / double(b));
  }
  size_t i = 0;
  for (auto& p : net->parameters()) {
    p.mutable_grad() = torch::Tensor();
    p.set_requires_grad(grad[i++]);
  }
  net->eval();
  return c;
}

// The backbone a run uses when no model is named: the best pretrained one on this machine (the cache
// `imagefit weights fetch` fills, Keras's and torchvision's caches, then the one shipped with imagefit).
std::string default_weights(const TrainOptions& opt) {
  if (!opt.weights.empty() || !opt.arch.empty() || opt.strategy == Strategy::Scratch) return opt.weights;
  if (auto cached = best_cached_backbone()) {
    if (opt.progress)
      std::fprintf(stderr, "using the %spretrained backbone %s (%s); --arch simple-cnn trains from scratch\n",
                   cached->embedded ? "embedded " : "", cached->entry.name.c_str(), cached->path.string().c_str());
    return cached->path.string();
  }
  if (opt.strategy == Strategy::Auto && opt.progress)
    std::fprintf(stderr,
                 "training simple-cnn from scratch: no pretrained backbone in %s nor beside the imagefit binary "
                 "(imagefit weights fetch mobilenet_v2 gets one; --weights FILE uses a file you have)\n",
                 weights_cache_dir().string().c_str());
  return "";
}

}  // namespace

nlohmann::json train_model(const TrainOptions& options, const std::function<bool()>& interrupted) {
  const auto t_start = Clock::now();
  // Data-parallel (train/distributed.h): join the group first; ranks other than 0 write only into a
  // private temporary folder (they need their own best model to continue from) and print nothing.
  std::unique_ptr<Distributed> dist;
  TrainOptions local = options;
  std::optional<TempDir> rank_dir;
  int default_threads = hardware_threads();
  if (options.distributed) {
    const DistributedEnv env = DistributedEnv::from_environment();
    default_threads = std::max(1, hardware_threads() / env.local_world_size);  // the cores, shared
    if (env.world_size > 1) {
      dist = std::make_unique<Distributed>(env, options.dist_timeout);
      if (!dist->is_main()) {
        rank_dir.emplace("imagefit-rank" + std::to_string(env.rank));
        local.output = (rank_dir->path() / fs::path(options.output).filename()).string();
        local.progress = false;
        local.overwrite = true;
        // Resuming: this rank continues from the checkpoint and model rank 0 wrote (a shared folder).
        if (options.resume && fs::exists(options.output)) fs::copy_file(options.output, local.output);
      }
    }
  }
  const TrainOptions& opt = local;
  // The output is checked before any work: never over the backbone being read, never into the dataset,
  // never over a model without --force, and a folder that cannot be written fails now, not after epoch 1.
  const std::string resume_file = checkpoint_path(options.output);  // rank 0's, read by every rank
  if (!opt.resume && !opt.overwrite && fs::exists(opt.output) && fs::exists(resume_file))
    throw UsageError("-o " + opt.output + ": an unfinished run left its checkpoint " + resume_file +
                     " there: add --resume to continue it, or --force to start again");
  if (opt.resume && !fs::exists(resume_file))
    throw UsageError("--resume: there is no checkpoint " + resume_file +
                     " to continue (the run finished, or stopped before its first epoch)");
  if (check_output_path(opt.output, {opt.weights}, {opt.data}, opt.overwrite || opt.resume, "-o") && opt.progress)
    std::fprintf(stderr, "created the folder %s\n", fs::path(opt.output).parent_path().string().c_str());
  remove_stale_temp_files(opt.output);
  if (!dist || dist->is_main()) remove_stale_temp_files(resume_file);
  const int threads = opt.threads > 0 ? opt.threads : default_threads;
  torch::set_num_threads(threads);
  torch::manual_seed(int64_t(opt.seed));
  if (opt.batch_size < 1) throw UsageError("--batch-size " + std::to_string(opt.batch_size) + ": must be at least 1");
  const torch::Device device = resolve_device(opt.device);

  // Data: train / validation (taken from train when missing) / test.
  Dataset ds = open_dataset(opt.data);
  // The cheap part of `imagefit check` (reads each file once; decoding then finds them in the page
  // cache): unreadable files, leakage across splits, duplicates, imbalance, as warnings.
  if (opt.progress)
    for (const auto& line : quick_check(ds, threads).warning_lines()) std::fprintf(stderr, "warning: %s\n", line.c_str());
  std::string val_source = "validation folder";
  if (!ds.has_validation()) {
    auto [keep, taken] = split_stratified(ds.train, opt.val_split, opt.seed);
    ds.train = keep;
    ds.validation = taken;
    val_source = "--val-split " + std::to_string(opt.val_split).substr(0, 4) + " of train";
    if (ds.validation.images.empty()) throw Error(opt.data + ": too few images to take a validation split from");
  }
  // A checkpoint continues only the run that wrote it: same options, same images.
  const nlohmann::json fingerprint = run_fingerprint(opt, ds, dist ? dist->world_size() : 1);
  std::unique_ptr<Checkpoint> resume;
  if (opt.resume) {
    resume = std::make_unique<Checkpoint>(Checkpoint::load(resume_file, device));
    const auto diffs = fingerprint_differences(resume->state.at("fingerprint"), fingerprint);
    if (!diffs.empty()) {
      std::string text = resume_file + " is the checkpoint of another run; what differs:";
      for (const auto& d : diffs) text += "\n  " + d;
      throw UsageError(text + "\nrun the same command as before with --resume, or without it (and --force) to start again");
    }
  }

  // Network: a pretrained backbone from --weights (or found on the machine), or an architecture.
  NetworkSpec spec;
  spec.classes = ds.classes;
  spec.head.dropout = opt.dropout;
  spec.resize = resize_mode_from_string(opt.resize);
  spec.head.hidden = opt.head_hidden;
  const std::string weights_file = default_weights(opt);
  Backbone pretrained;
  std::string weights_description;
  if (!weights_file.empty()) {
    Pretrained p = load_pretrained(weights_file, opt.arch);
    pretrained = p.backbone;
    spec.arch = p.arch;
    spec.backbone = p.options;
    weights_description = p.description;
    if (opt.progress) std::fprintf(stderr, "backbone: %s from %s\n", p.description.c_str(), weights_file.c_str());
  } else {
    spec.arch = opt.arch.empty() ? "simple-cnn" : opt.arch;
    find_architecture(spec.arch);  // validates the name
  }
  const bool transfer = bool(pretrained);
  spec.head.pooling = spec.arch == "simple-cnn" ? "flatten" : "avg";
  if (spec.arch == "simple-cnn") spec.image_size = opt.image_size > 0 ? opt.image_size : 180;
  spec.backbone.image_size = opt.image_size;
  Classifier net{nullptr};
  if (transfer) {
    spec.normalization = pretrained->input_spec().normalization;
    spec.image_size = opt.image_size > 0 ? opt.image_size : pretrained->input_spec().default_size;
    spec.backbone.image_size = spec.image_size;
    spec.head.classes = int64_t(spec.classes.size());
    spec.head.in_features = pretrained->feature_channels();
    net = Classifier(pretrained, spec.head);
  } else {
    net = build_network(spec);
    if (spec.arch == "simple-cnn") init_like_keras(*net);  // the tutorial's Keras model, as Keras starts it
    spec.normalization = net->backbone()->input_spec().normalization;
    if (spec.arch != "simple-cnn") spec.image_size = opt.image_size > 0 ? opt.image_size : net->backbone()->input_spec().default_size;
  }
  net->to(device);
  if (dist) {  // every rank starts from rank 0's weights (a scratch network is initialised from the RNG)
    std::vector<torch::Tensor> state = net->parameters();
    for (auto& b : net->buffers()) state.push_back(b);
    dist->broadcast(state);
  }

  // The plan, from what is known and a few timings, printed before the work.
  const Precision precision = resolve_precision(opt.precision, device.is_cuda());
  DataFacts facts{ds.train.images.size(), ds.validation.images.size(), ds.classes.size()};
  BackboneFacts bf{transfer, int(net->backbone()->stages().size()), net->backbone()->can_run_stages()};
  make_plan(opt, facts, bf, precision);  // checks the options before the timings
  const CostFacts costs = measure_costs(net, spec, ds.train, precision, device, threads);
  TrainPlan plan = make_plan(opt, facts, bf, precision, costs);
  if (resume) {
    // The epochs the first run planned (a time budget fits them to timings that differ run to run).
    const auto planned = resume->state.at("planned_epochs").get<std::vector<int>>();
    if (planned.size() != plan.phases.size()) throw Error(resume_file + ": its plan has a different number of phases");
    for (size_t i = 0; i < planned.size(); ++i) plan.phases[i].epochs = planned[i];
  }
  // A time budget fits epochs to this rank's timings: every rank takes rank 0's.
  if (dist)
    for (auto& p : plan.phases) p.epochs = int(std::lround(dist->from_main(p.epochs)));
  Augmentation aug = make_augmentation(plan.augment, spec.image_size);

  std::filesystem::path out_path(opt.output);
  const auto history_path = out_path.parent_path() / (out_path.stem().string() + ".history.csv");
  const auto curves_path = out_path.parent_path() / (out_path.stem().string() + ".curves.png");
  if (opt.progress) {
    std::fprintf(stderr, "data: %s: %s, train %s, validation %s (%s), test %s\n", opt.data.c_str(),
                 plural(long(ds.classes.size()), "class", "classes").c_str(), with_commas(long(ds.train.images.size())).c_str(),
                 with_commas(long(ds.validation.images.size())).c_str(), val_source.c_str(),
                 with_commas(long(ds.test.images.size())).c_str());
    std::fprintf(stderr, "model: %s, %dx%d, batch %d, %s, device %s, %s\n", spec.arch.c_str(), spec.image_size,
                 spec.image_size, opt.batch_size, plural(threads, "thread").c_str(), device.str().c_str(),
                 describe_precision(opt.precision, precision, device.is_cuda()).c_str());
    std::fprintf(stderr, "%s\n", plan.summary().c_str());
    if (dist)
      std::fprintf(stderr, "data-parallel: %d ranks x batch %d = global batch %d (the learning rate is not scaled); each "
                   "rank trains on its shard of every epoch\n", dist->world_size(), opt.batch_size,
                   dist->world_size() * opt.batch_size);
  }

  ImageCache train_cache(ds.train, spec.image_size, spec.resize, threads, opt.strict, size_t(3) << 30, opt.progress);
  ImageCache val_cache(ds.validation, spec.image_size, spec.resize, threads, opt.strict, size_t(1) << 30, opt.progress);

  Run run{opt, plan, device, spec, net, TrainState{}, precision, threads, interrupted};
  run.state.start = t_start;
  run.state.monitor = monitor_from_string(opt.monitor);
  run.resume = resume.get();
  run.dist = dist.get();
  nlohmann::json metadata = {{"imagefit_version", "0.1.0"},
                             {"created", std::to_string(std::time(nullptr))},
                             {"training",
                              {{"data", opt.data},
                               {"strategy", to_string(plan.strategy)},
                               {"plan", plan.summary()},
                               {"epochs", opt.epochs},
                               {"batch_size", opt.batch_size},
                               {"seed", opt.seed},
                               {"augment", aug.json},
                               {"resize", to_string(spec.resize)},
                               {"precision", to_string(precision)},
                               {"weights", weights_file},
                               {"weights_description", weights_description},
                               {"train_images", train_cache.size()},
                               {"validation_images", val_cache.size()},
                               {"validation_source", val_source},
                               {"optimizer", to_string(plan.optimizer)},
                               {"learning_rate", plan.lr},
                               {"label_smoothing", opt.label_smoothing},
                               {"monitor", opt.monitor},
                               {"schedule", to_string(plan.phases.back().schedule)}}}};
  if (plan.time_budget > 0) metadata["training"]["time_budget_seconds"] = plan.time_budget;
  if (!opt.config.empty()) metadata["training"]["config"] = opt.config;
  auto save = [&](const TrainState& s) {
    nlohmann::json meta = metadata;
    meta["training"]["history_csv"] = history_path.filename().string();
    meta["training"]["best_epoch"] = s.best_epoch;
    meta["training"]["epochs_run"] = s.history.size();
    meta["training"]["val_loss"] = s.best_val_loss;
    meta["training"]["val_accuracy"] = s.history[size_t(s.best_epoch - 1)].val_accuracy;
    save_model(opt.output, run.spec, meta, run.net);
  };
  run.state.callbacks.push_back(best_checkpoint(save));
  run.state.callbacks.push_back(history_files(history_path, curves_path, spec.arch + " on " + opt.data));
  if (opt.progress) run.state.callbacks.push_back(epoch_printer());
  if (plan.time_budget > 0) run.state.callbacks.push_back(time_budget(plan.time_budget));

  Strategy strategy = plan.strategy;
  size_t first_phase = 0;
  std::optional<bool> decided_fine_tune;  // strategy auto's decision, once made
  if (resume) {
    const auto& st = resume->state;
    first_phase = st.at("phase").get<size_t>();
    run.state.history = history_from_json(st.at("history"));
    run.state.best_val_loss = st.at("best_val_loss").get<double>();
    run.state.best_epoch = st.at("best_epoch").get<int>();
    run.state.epochs_since_best = st.at("epochs_since_best").get<int>();
    run.state.start -= std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(st.at("seconds").get<double>()));
    metadata["training"] = st.at("training");
    strategy = strategy_from_string(st.at("strategy").get<std::string>());
    run.precision = precision_from_string(st.at("precision").get<std::string>());
    run.spec.head.dropout = st.at("head_dropout").get<double>();
    run.net->head()->set_dropout(run.spec.head.dropout);
    if (st.contains("decided_fine_tune")) decided_fine_tune = st["decided_fine_tune"].get<bool>();
    if (opt.progress)
      std::fprintf(stderr, "resuming from %s: %zu epoch%s done, best epoch %d (val_loss %.4f)\n", resume_file.c_str(),
                   run.state.history.size(), run.state.history.size() == 1 ? "" : "s", run.state.best_epoch,
                   run.state.best_val_loss);
  }
  // The last state, after each epoch of a phase with an optimizer and at each phase boundary.
  auto write_checkpoint = [&](size_t phase, int phase_epochs, torch::optim::Optimizer* optimizer) {
    std::vector<int> planned;
    for (const auto& p : plan.phases) planned.push_back(p.epochs);
    nlohmann::json st = {{"fingerprint", fingerprint},
                         {"phase", phase},
                         {"phase_epochs", phase_epochs},
                         {"planned_epochs", planned},
                         {"history", history_to_json(run.state.history)},
                         {"best_val_loss", run.state.best_val_loss},
                         {"best_epoch", run.state.best_epoch},
                         {"epochs_since_best", run.state.epochs_since_best},
                         {"seconds", run.state.elapsed_seconds()},
                         {"training", metadata["training"]},
                         {"strategy", to_string(strategy)},
                         {"precision", to_string(run.precision)},
                         {"head_dropout", run.spec.head.dropout}};
    if (decided_fine_tune) st["decided_fine_tune"] = *decided_fine_tune;
    if (dist && !dist->is_main()) return;  // rank 0's checkpoint is the run's
    Checkpoint::save(resume_file, st, *run.net, optimizer, device);
  };
  run.checkpoint = [&](int done, torch::optim::Optimizer* optimizer) {
    if (run.was_interrupted || run.diverged) return;
    const size_t i = size_t(run.phase_index);
    // A phase that has ended (all its epochs, early stopping, the time budget) is resumed after it.
    if (run.state.stop || done >= plan.phases[i].epochs)
      write_checkpoint(i + 1, 0, nullptr);
    else
      write_checkpoint(i, done, optimizer);
  };

  std::vector<int> last_epoch_of_phase;  // "epoch 3/11": the probe is one epoch
  for (const auto& p : plan.phases)
    last_epoch_of_phase.push_back((last_epoch_of_phase.empty() ? 0 : last_epoch_of_phase.back()) +
                                  (p.kind == PhaseKind::Probe ? 1 : p.epochs));
  run.state.planned_epochs = last_epoch_of_phase.back();
  for (size_t phase_index = first_phase; phase_index < plan.phases.size(); ++phase_index) {
    const PhasePlan& phase = plan.phases[phase_index];
    run.phase_index = int(phase_index);
    run.state.phase_last_epoch = last_epoch_of_phase[phase_index];
    if (run.was_interrupted || run.diverged) break;
    run.state.stop = false;
    run.state.callbacks.push_back(early_stopping(phase.patience, phase.grace));
    if (phase.kind == PhaseKind::Probe || phase.kind == PhaseKind::HeadEpochs) {
      ProbeResult probe = probe_phase(run, phase, train_cache, val_cache, aug);
      metadata["training"].update(probe.metadata);
      if (plan.strategy == Strategy::Auto) {
        metadata["training"]["probe_val_accuracy"] = probe.val_accuracy;
        strategy = Strategy::FeatureExtract;
      }
    } else if (phase.kind == PhaseKind::FineTune) {
      if (phase.conditional) {
        // Time left, and a fine-tune epoch at the measured costs.
        const double left = plan.time_budget > 0 ? plan.time_budget - run.state.elapsed_seconds() : 1e300;
        ProbeDecision d = decide_after_probe(plan, metadata["training"].value("probe_val_accuracy", 0.0), left,
                                             epoch_seconds(phase, facts, costs));
        if (decided_fine_tune) {
          d.fine_tune = *decided_fine_tune;  // a resumed run keeps the first run's decision
          d.why = metadata["training"].value("auto_decision", d.why);
        }
        if (dist) d.fine_tune = dist->from_main(d.fine_tune ? 1 : 0) > 0.5;  // rank 0's clock decides
        decided_fine_tune = d.fine_tune;
        if (opt.progress) std::fprintf(stderr, "strategy auto: %s: %s\n", d.why.c_str(), d.fine_tune ? "fine-tune" : "feature-extract");
        metadata["training"]["auto_decision"] = d.why;
        if (!d.fine_tune) {
          run.activations.reset();  // the probe's kept activations: no fine-tuning to use them
          run.state.callbacks.pop_back();
          break;
        }
      }
      strategy = Strategy::FineTune;
      metadata["training"].update(fine_tune_phase(run, phase, train_cache, val_cache, aug));
    } else {
      train_phase(run, phase, train_cache, val_cache, aug);
    }
    run.state.callbacks.pop_back();  // this phase's early stopping
    if (!run.was_interrupted && !run.diverged) write_checkpoint(phase_index + 1, 0, nullptr);
    if (run.state.stop && !run.state.stop_reason.empty() && opt.progress && !run.was_interrupted && !run.diverged)
      std::fprintf(stderr, "%s\n", run.state.stop_reason.c_str());
  }
  metadata["training"]["strategy"] = plan.strategy == Strategy::Auto ? "auto: " + to_string(strategy) : to_string(strategy);
  if (run.precision != precision) metadata["training"]["precision"] = to_string(run.precision);

  if (run.was_interrupted && fs::exists(resume_file) && opt.progress) {
    std::fprintf(stderr, "interrupted: %zu epoch%s saved in %s; run the same command with --resume to continue\n",
                 run.state.history.size(), run.state.history.size() == 1 ? "" : "s", resume_file.c_str());
  }
  // Finished (or diverged, which a resume would repeat): the checkpoint goes once the model file is
  // final, so a kill before that leaves a run that --resume completes.
  auto remove_checkpoint = [&] {
    if (run.was_interrupted || (dist && !dist->is_main())) return;
    std::error_code ec;
    fs::remove(resume_file, ec);
  };
  if (run.state.history.empty()) {
    remove_checkpoint();
    if (run.diverged) throw Error(run.state.stop_reason + "; no model written");
    throw Error("training stopped before the first epoch finished; no model written");
  }
  const auto& h = run.state.history;
  const auto& best_rec = h[size_t(run.state.best_epoch - 1)];

  // Best model by val_loss, then the test split.
  SavedModel best = load_model(opt.output);
  best.network->to(device);
  nlohmann::json summary = {{"model", opt.output},
                            {"arch", spec.arch},
                            {"strategy", to_string(strategy)},
                            {"plan", plan.summary()},
                            {"precision", to_string(run.precision)},
                            {"classes", spec.classes},
                            {"image_size", spec.image_size},
                            {"best_epoch", run.state.best_epoch},
                            {"best_phase", best_rec.phase},
                            {"epochs_run", h.size()},
                            {"val_loss", run.state.best_val_loss},
                            {"val_accuracy", best_rec.val_accuracy},
                            {"test_loss", nullptr},
                            {"test_accuracy", nullptr},
                            {"history", history_path.string()},
                            {"curves", curves_path.string()},
                            {"stopped", run.was_interrupted ? nlohmann::json("interrupted") : nlohmann::json(nullptr)}};
  if (plan.estimated_seconds > 0) summary["estimated_seconds"] = plan.estimated_seconds;
  // Temperature scaling and the --tta decision, on validation (train/calibrate.h).
  if (!run.was_interrupted && (!dist || dist->is_main()))
    summary["calibration"] = calibrate_on_validation(
        best, val_cache, {opt.calibrate, opt.tta, std::max(64, opt.batch_size), threads, opt.progress}, run.precision, device);
  if (ds.has_test() && !run.was_interrupted && (!dist || dist->is_main())) {
    ImageCache test_cache(ds.test, spec.image_size, spec.resize, threads, opt.strict, size_t(1) << 30, opt.progress);
    // As evaluate scores it: at the fitted temperature, with TTA if it was kept.
    const InferenceScore t = score_as_inference(best, test_cache, std::max(64, opt.batch_size), threads, run.precision,
                                                device, opt.progress ? "test" : "");
    summary["test_loss"] = t.loss;
    summary["test_accuracy"] = t.accuracy;
    summary["test_images"] = test_cache.size();
    best.metadata["training"]["test_loss"] = t.loss;
    best.metadata["training"]["test_accuracy"] = t.accuracy;
  }
  summary["diverged"] = run.diverged;
  summary["rank"] = dist ? dist->rank() : 0;
  summary["world_size"] = dist ? dist->world_size() : 1;
  summary["seconds"] = seconds_since(t_start);
  best.metadata["training"]["seconds"] = summary["seconds"];
  // Settings decided after the best epoch was saved (the strategy `auto` chose, ...).
  for (const auto& [key, value] : metadata["training"].items())
    if (!best.metadata["training"].contains(key) || key == "strategy" || key == "precision") best.metadata["training"][key] = value;
  best.metadata["training"]["epochs_run"] = h.size();
  if (run.state.stop && !run.state.stop_reason.empty()) {
    best.metadata["training"]["stopped"] = run.state.stop_reason;
    if (summary["stopped"].is_null()) summary["stopped"] = run.state.stop_reason;
  }
  // The whole history (not only up to the best epoch) travels in the model, for reports.
  best.metadata["training"]["history"] = history_to_csv(h);
  save_model(opt.output, best.spec, best.metadata, best.network);
  remove_checkpoint();
  return summary;
}

}  // namespace imagefit

// The training plan's decisions for given inputs (train/plan.h), without training anything.
#include <gtest/gtest.h>

#include "core/error.h"
#include "train/options.h"
#include "train/plan.h"

using namespace imagefit;

namespace {
TrainOptions defaults() { return TrainOptions{}; }
DataFacts data(size_t train, size_t val = 200, size_t classes = 10) { return {train, val, classes}; }
const BackboneFacts kMobileNet{true, 20, true};
const BackboneFacts kScratch{false, 5, false};
}  // namespace

TEST(Plan, WithoutAPretrainedBackboneTrainsFromScratch) {
  TrainPlan p = make_plan(defaults(), data(1000), kScratch, Precision::FP32);
  EXPECT_EQ(p.strategy, Strategy::Scratch);
  ASSERT_EQ(p.phases.size(), 1u);
  EXPECT_EQ(p.phases[0].kind, PhaseKind::Train);
  EXPECT_EQ(p.phases[0].epochs, 30);
  EXPECT_EQ(p.phases[0].patience, 0);
  EXPECT_EQ(p.augment, "none");  // the Keras tutorial's baseline
  EXPECT_EQ(p.optimizer, OptimizerName::RMSprop);
  EXPECT_DOUBLE_EQ(p.lr, 1e-3);

  TrainOptions o = defaults();
  o.strategy = Strategy::FineTune;
  try {
    make_plan(o, data(1000), kScratch, Precision::FP32);
    FAIL() << "fine-tune without a backbone must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs a pretrained backbone"), std::string::npos);
  }
}

TEST(Plan, AutoProbesThenFineTunesOnlyIfTheProbeLeavesRoom) {
  TrainPlan p = make_plan(defaults(), data(1443), kMobileNet, Precision::BF16);
  EXPECT_EQ(p.strategy, Strategy::Auto);
  ASSERT_EQ(p.phases.size(), 2u);
  EXPECT_EQ(p.phases[0].kind, PhaseKind::Probe);
  EXPECT_EQ(p.phases[0].feature_copies, 4);  // light augmentation by default for transfer learning
  EXPECT_EQ(p.augment, "light");
  const PhasePlan& ft = p.phases[1];
  EXPECT_EQ(ft.kind, PhaseKind::FineTune);
  EXPECT_TRUE(ft.conditional);
  EXPECT_EQ(ft.epochs, 10);
  EXPECT_EQ(ft.patience, 3);  // the first epochs often lose to the probe before they beat it
  EXPECT_EQ(p.optimizer, OptimizerName::Adam);
  EXPECT_DOUBLE_EQ(p.backbone_lr, p.lr / 10);
  EXPECT_EQ(p.precision, Precision::BF16);

  EXPECT_FALSE(decide_after_probe(p, 0.99, 1e9, 10).fine_tune);   // features already fit
  EXPECT_TRUE(decide_after_probe(p, 0.93, 1e9, 10).fine_tune);    // room to improve
  EXPECT_TRUE(decide_after_probe(p, 0.93, 5, 10).fine_tune);  // no budget: the time left does not matter
  TrainOptions budget = defaults();
  budget.time_budget = 60;
  const auto no_time = decide_after_probe(make_plan(budget, data(1443), kMobileNet, Precision::BF16), 0.93, 5, 10);
  EXPECT_FALSE(no_time.fine_tune);  // less than one epoch left
  EXPECT_NE(no_time.why.find("time budget"), std::string::npos) << no_time.why;
}

TEST(Plan, FineTuneDepthFollowsTheDataSize) {
  auto depth = [](size_t n) { return make_plan(defaults(), data(n), kMobileNet, Precision::FP32).phases[1]; };
  const PhasePlan small = depth(300), medium = depth(1500), large = depth(20000);
  EXPECT_EQ(small.unfreeze, 7);  // the last third
  EXPECT_EQ(medium.unfreeze, 13);  // the last two thirds: 20 - 7
  EXPECT_EQ(large.unfreeze, 20);
  // Partial fine-tuning of a backbone that can run its stages separately caches the frozen ones;
  // all stages open, or a backbone that cannot split, or the flag off: no cache.
  EXPECT_TRUE(small.cache_bottom);
  EXPECT_TRUE(medium.cache_bottom);
  EXPECT_FALSE(large.cache_bottom);
  const PhasePlan no_split = make_plan(defaults(), data(1500), BackboneFacts{true, 6, false}, Precision::FP32).phases[1];
  EXPECT_EQ(no_split.unfreeze, 6);  // without the cache, stopping short saves nothing: the whole backbone
  EXPECT_FALSE(no_split.cache_bottom);
  EXPECT_FALSE(make_plan(defaults(), data(300), BackboneFacts{true, 6, false}, Precision::FP32).phases[1].cache_bottom);
  TrainOptions off = defaults();
  off.cache_activations = false;
  EXPECT_FALSE(make_plan(off, data(300), kMobileNet, Precision::FP32).phases[1].cache_bottom);
  EXPECT_EQ(make_plan(off, data(1500), kMobileNet, Precision::FP32).phases[1].unfreeze, 20);
  // The user's --unfreeze wins.
  TrainOptions all = defaults();
  all.unfreeze = kUnfreezeAll;
  EXPECT_EQ(make_plan(all, data(300), kMobileNet, Precision::FP32).phases[1].unfreeze, 20);
  TrainOptions three = defaults();
  three.unfreeze = 3;
  EXPECT_EQ(make_plan(three, data(20000), kMobileNet, Precision::FP32).phases[1].unfreeze, 3);
}

TEST(Plan, EpochsCountTheFineTuneEpochsNotTheProbe) {
  TrainOptions o = defaults();
  o.epochs = 4;
  o.strategy = Strategy::FineTune;
  TrainPlan p = make_plan(o, data(1000), kMobileNet, Precision::FP32);
  ASSERT_EQ(p.phases.size(), 2u);
  EXPECT_EQ(p.phases[0].kind, PhaseKind::Probe);
  EXPECT_EQ(p.phases[1].epochs, 4);
  EXPECT_FALSE(p.phases[1].conditional);
  // Feature extraction with the L-BFGS probe has no epochs: --epochs is reported as doing nothing.
  o.strategy = Strategy::FeatureExtract;
  p = make_plan(o, data(1000), kMobileNet, Precision::FP32);
  ASSERT_EQ(p.phases.size(), 1u);
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_NE(p.notes[0].find("--epochs has no effect"), std::string::npos);
  o.head_solver = "epochs";
  p = make_plan(o, data(1000), kMobileNet, Precision::FP32);
  EXPECT_EQ(p.phases[0].kind, PhaseKind::HeadEpochs);
  EXPECT_EQ(p.phases[0].epochs, 4);
  EXPECT_TRUE(p.notes.empty());
}

TEST(Plan, TimeBudgetShortensFineTuningFirstThenDropsIt) {
  // 1,000 training and 200 validation images; frozen forward 5 ms, a training step 20 ms an image.
  const CostFacts costs{0.002, 0.005, 0.020};
  TrainOptions o = defaults();
  o.unfreeze = kUnfreezeAll;  // no cache: an epoch is 1000·0.020 + 200·0.005 = 21 s
  const TrainPlan free = make_plan(o, data(1000), kMobileNet, Precision::FP32, costs);
  // decode 2.4 s + probe (1000·5 + 200)·0.005 = 26 s + 10 epochs · 21 s
  EXPECT_NEAR(free.estimated_seconds, 2.4 + 26 + 210, 1e-6);
  o.time_budget = 100;
  const TrainPlan fit = make_plan(o, data(1000), kMobileNet, Precision::FP32, costs);
  ASSERT_EQ(fit.phases.size(), 2u);
  EXPECT_EQ(fit.phases[1].epochs, 3);  // (100 - 28.4) / 21 = 3.4
  EXPECT_LE(fit.estimated_seconds, 100);
  o.time_budget = 40;
  const TrainPlan probe_only = make_plan(o, data(1000), kMobileNet, Precision::FP32, costs);
  ASSERT_EQ(probe_only.phases.size(), 1u);
  EXPECT_EQ(probe_only.phases[0].feature_copies, 4);
  o.time_budget = 10;  // not even the augmented copies fit: the plain probe runs anyway
  const TrainPlan bare = make_plan(o, data(1000), kMobileNet, Precision::FP32, costs);
  ASSERT_EQ(bare.phases.size(), 1u);
  EXPECT_EQ(bare.phases[0].feature_copies, 0);
  EXPECT_NE(bare.summary().find("no time for augmented feature copies"), std::string::npos) << bare.summary();
}

TEST(Plan, NotesOptionsThatDoNothing) {
  TrainOptions o = defaults();
  o.unfreeze = 3;
  EXPECT_NE(make_plan(o, data(100), kScratch, Precision::FP32).summary().find("--unfreeze has no effect"),
            std::string::npos);
  o = defaults();
  o.backbone_lr = 1e-4;
  o.strategy = Strategy::FeatureExtract;
  EXPECT_NE(make_plan(o, data(100), kMobileNet, Precision::FP32).summary().find("--backbone-lr has no effect"),
            std::string::npos);
}

TEST(Plan, SummaryIsTwoLinesWithTheReason) {
  const TrainPlan p = make_plan(defaults(), data(300), kMobileNet, Precision::BF16, {0.002, 0.005, 0.02});
  const std::string s = p.summary();
  EXPECT_EQ(s.rfind("plan: linear probe on frozen features (+4 augmented copies), then, if the probe is below 98.5%", 0), 0u)
      << s;
  EXPECT_NE(s.find("\nwhy: "), std::string::npos) << s;
  EXPECT_NE(s.find("bf16"), std::string::npos) << s;
  EXPECT_NE(s.find("about "), std::string::npos) << s;
}

TEST(Options, ParsesDurationsStrategiesAndUnfreeze) {
  EXPECT_DOUBLE_EQ(duration_from_string("90"), 90);
  EXPECT_DOUBLE_EQ(duration_from_string("90s"), 90);
  EXPECT_DOUBLE_EQ(duration_from_string("2m"), 120);
  EXPECT_DOUBLE_EQ(duration_from_string("1h30m"), 5400);
  EXPECT_DOUBLE_EQ(duration_from_string("1.5m"), 90);
  for (const char* bad : {"", "0", "-1m", "2x", "m", "1h30", "1..2s"}) EXPECT_THROW(duration_from_string(bad), Error) << bad;
  EXPECT_EQ(strategy_from_string("fine-tune"), Strategy::FineTune);
  try {
    strategy_from_string("finetune");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected auto, scratch, feature-extract or fine-tune"), std::string::npos);
  }
  EXPECT_THROW(optimizer_from_string("adamx"), Error);
  EXPECT_EQ(unfreeze_from_string("all"), kUnfreezeAll);
  EXPECT_EQ(unfreeze_from_string("auto"), kUnfreezeAuto);
  EXPECT_EQ(unfreeze_from_string("7"), 7);
  for (const char* bad : {"0", "-2", "3x", "abc", ""}) EXPECT_THROW(unfreeze_from_string(bad), Error) << bad;
  EXPECT_EQ(precision_from_string("bf16"), Precision::BF16);
  EXPECT_THROW(precision_from_string("fp16"), Error);
  EXPECT_EQ(resolve_precision(Precision::FP32, true), Precision::FP32);
  EXPECT_EQ(resolve_precision(Precision::Auto, true), Precision::BF16);  // CUDA autocast
}

// Fine-tuning on the activation cache: the probe keeps the frozen stages' output as it computes its
// features, so the plan's estimate has no second pass over them; early stopping leaves the warm-up
// epoch and the first at the full learning rate out of the patience.
TEST(Plan, TheProbeKeepsTheActivationsTheFineTuneTrainsOn) {
  const CostFacts costs{0.001, 0.01, 0.05};
  TrainPlan p = make_plan(defaults(), data(1800), kMobileNet, Precision::BF16, costs);
  ASSERT_EQ(p.phases.size(), 2u);
  const PhasePlan& ft = p.phases[1];
  ASSERT_TRUE(ft.cache_bottom);
  EXPECT_TRUE(ft.cache_from_probe);
  EXPECT_LE(ft.feature_copies, p.phases[0].feature_copies);  // the probe makes every copy fine-tuning uses
  EXPECT_EQ(ft.grace, 2);
  EXPECT_NE(p.summary().find("not before epoch 5"), std::string::npos) << p.summary();
  // The estimate: decode, the probe's 5 passes + validation, then per epoch the open 13 of 20 stages
  // on the training images and the validation images through the frozen graph; no cache pass.
  const double open = 13.0 / 20;
  const double expected = (1800 + 200) * 0.001 + (1800 * 5 + 200) * 0.01 + 10 * (1800 * 0.05 * open + 200 * 0.01);
  EXPECT_NEAR(p.estimated_seconds, expected, 1e-6);

  TrainOptions no_aug = defaults();
  no_aug.augment = "none";
  const TrainPlan q = make_plan(no_aug, data(1800), kMobileNet, Precision::BF16);
  EXPECT_TRUE(q.phases[1].cache_from_probe);  // the probe's one plain copy
  EXPECT_EQ(q.phases[1].feature_copies, 1);

  TrainOptions no_patience = defaults();
  no_patience.patience = 0;
  EXPECT_EQ(make_plan(no_patience, data(1800), kMobileNet, Precision::BF16).phases[1].grace, 0);
  // A backbone that cannot run its stages separately has no cache to keep.
  const TrainPlan r = make_plan(defaults(), data(1800), BackboneFacts{true, 20, false}, Precision::BF16);
  EXPECT_FALSE(r.phases[1].cache_bottom);
  EXPECT_FALSE(r.phases[1].cache_from_probe);
}

// --schedule: auto is cosine after a warm-up when fine-tuning and constant from scratch (the Keras
// tutorial's); a named schedule applies to every phase trained with the optimizer.
TEST(Plan, TheScheduleIsCosineForFineTuningConstantFromScratchUnlessNamed) {
  TrainPlan ft = make_plan(defaults(), data(1800), kMobileNet, Precision::BF16);
  EXPECT_EQ(ft.phases[1].schedule, Schedule::Cosine);
  EXPECT_NE(ft.summary().find("cosine learning rate"), std::string::npos) << ft.summary();
  TrainPlan scratch = make_plan(defaults(), data(1800), kScratch, Precision::FP32);
  EXPECT_EQ(scratch.phases[0].schedule, Schedule::Constant);
  EXPECT_EQ(scratch.summary().find("learning rate"), std::string::npos) << scratch.summary();
  TrainOptions o = defaults();
  o.schedule = Schedule::OneCycle;
  EXPECT_EQ(make_plan(o, data(1800), kScratch, Precision::FP32).phases[0].schedule, Schedule::OneCycle);
  EXPECT_EQ(make_plan(o, data(1800), kMobileNet, Precision::FP32).phases[1].schedule, Schedule::OneCycle);
}

// The linear probe keeps the frozen stages' output for the fine-tune phase (train/phases.h): what it
// keeps must be exactly what the fine-tune phase computes by itself (a resumed run does that, and must
// train on the same tensors as the run it continues), for the augmented copies and without them.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "core/fs.h"
#include "data/dataset.h"
#include "test_support.h"
#include "train/activation_cache.h"
#include "train/augmentation.h"
#include "train/image_cache.h"
#include "train/phases.h"
#include "train/plan.h"
#include "weights/saved_model.h"

namespace imagefit {
namespace {

// Images [skip, skip + count) of classes 0 and 1.
ImageSet two_classes(const ImageSet& set, size_t skip, size_t count) {
  ImageSet out;
  out.classes = {set.classes.at(0), set.classes.at(1)};
  size_t seen[2] = {0, 0};
  for (const auto& im : set.images)
    if (im.label < 2 && seen[im.label]++ >= skip && seen[im.label] <= skip + count) out.images.push_back(im);
  return out;
}

void check_probe_keeps_what_fine_tuning_computes(const std::string& augment) {
  SCOPED_TRACE("--augment " + augment);
  torch::manual_seed(5);
  Dataset ds = open_dataset((test::source_dir() / "data" / "sample-sign-digits").string());
  const ImageSet train_set = two_classes(ds.train, 0, 6), val_set = two_classes(ds.train, 6, 4);

  NetworkSpec spec;
  spec.arch = "keras-mobilenet-v1";
  spec.backbone.alpha = 0.25;
  spec.image_size = 64;
  spec.backbone.image_size = 64;
  spec.classes = {"0", "1"};
  spec.head.pooling = "avg";
  Classifier net = build_network(spec);
  spec.normalization = net->backbone()->input_spec().normalization;
  ImageCache train(train_set, spec.image_size, spec.resize, 1, false, size_t(1) << 28, false);
  ImageCache val(val_set, spec.image_size, spec.resize, 1, false, size_t(1) << 28, false);

  TempDir dir("imagefit-probe-acts");
  TrainOptions opt;
  opt.output = (dir.path() / "m.imagefit").string();
  opt.progress = false;
  opt.seed = 3;
  opt.augment = augment;
  opt.strategy = Strategy::FineTune;
  opt.unfreeze = 5;
  opt.epochs = 3;
  const int stages = int(net->backbone()->stages().size());
  TrainPlan plan = make_plan(opt, DataFacts{train.size(), val.size(), 2}, BackboneFacts{true, stages, true},
                             Precision::FP32);
  ASSERT_EQ(plan.phases.size(), 2u);
  const PhasePlan& ft = plan.phases[1];
  ASSERT_TRUE(ft.cache_from_probe);
  Augmentation aug = make_augmentation(plan.augment, spec.image_size);

  Run run{opt, plan, torch::Device(torch::kCPU), spec, net, TrainState{}, Precision::FP32, 1, nullptr};
  probe_phase(run, plan.phases[0], train, val, aug);
  ASSERT_TRUE(run.activations);
  EXPECT_EQ(run.activations_split, size_t(stages - 5));
  auto computed = compute_activation_cache(run, ft, train, val, aug);
  ASSERT_EQ(run.activations->copies(), computed->copies());
  EXPECT_EQ(computed->copies(), augment == "none" ? 1 : 3);  // one a fine-tune epoch, up to 4
  std::vector<size_t> all(train.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  for (int copy = 0; copy < computed->copies(); ++copy)
    EXPECT_TRUE(torch::equal(run.activations->train_batch(copy, all), computed->train_batch(copy, all))) << "copy " << copy;
  EXPECT_TRUE(torch::equal(run.activations->validation(), computed->validation()));
  // The copies differ from each other when augmented (they are not one copy repeated).
  if (computed->copies() > 1) EXPECT_FALSE(torch::equal(computed->train_batch(0, all), computed->train_batch(1, all)));
}

TEST(ProbeActivations, AreWhatTheFineTunePhaseComputesWithAugmentation) { check_probe_keeps_what_fine_tuning_computes("light"); }
TEST(ProbeActivations, AreWhatTheFineTunePhaseComputesWithoutAugmentation) { check_probe_keeps_what_fine_tuning_computes("none"); }

}  // namespace
}  // namespace imagefit

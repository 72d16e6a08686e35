// ResNet-18/34/50 in torchvision's layout: loaded from torchvision's own state_dict files, their
// feature maps equal torchvision's on the same input.
#include <set>

#include "core/error.h"
#include "fixtures/torchvision_fixtures.h"
#include "models/registry.h"
#include "models/tv_resnet.h"
#include "weights/state_dict.h"
#include "weights/torchvision_pth.h"

namespace imagefit {
namespace {

namespace fs = std::filesystem;

const char* kResnet18Args = "resnet18 --legacy --checkpoint";
const char* kDeepArgs = "resnet34 resnet50";

struct Reference {
  torch::Tensor input, output;
};

Reference reference(const fs::path& dir, const std::string& arch, const std::string& suffix = "_io.pth") {
  Reference r;
  for (auto& [name, t] : read_pth((dir / (arch + suffix)).string())) (name == "input" ? r.input : r.output) = t;
  return r;
}

// max |ours - torchvision| relative to the reference's scale (float32 rounding gives ~1e-6 here).
double max_error(const torch::Tensor& ours, const torch::Tensor& ref) {
  return (ours - ref).abs().max().item<double>() / std::max(1.0, ref.abs().max().item<double>());
}

void expect_matches_torchvision(const fs::path& dir, const std::string& arch, const std::string& file) {
  SCOPED_TRACE(file);
  const Pretrained p = load_torchvision_backbone((dir / file).string(), "");
  EXPECT_EQ(p.arch, arch);
  EXPECT_EQ(p.backbone->arch(), arch);
  p.backbone->eval();
  const Reference ref = reference(dir, arch);
  torch::NoGradGuard no_grad;
  const torch::Tensor out = p.backbone->forward(ref.input);
  ASSERT_EQ(out.sizes(), ref.output.sizes());
  EXPECT_EQ(out.size(1), p.backbone->feature_channels());
  const double err = max_error(out, ref.output);
  EXPECT_LT(err, 1e-4) << arch << " differs from torchvision by " << err;
  std::cout << "[ " << arch << " ] " << file << ": max |diff| / max(1, max |torchvision|) = " << err << "\n";
  // In float64 rounding no longer hides small differences (a wrong epsilon, padding, order of operations).
  const Reference ref64 = reference(dir, arch, "_io64.pth");
  p.backbone->to(torch::kFloat64);
  const double err64 = max_error(p.backbone->forward(ref64.input), ref64.output);
  EXPECT_LT(err64, 1e-9) << arch << " differs from torchvision (float64) by " << err64;
  std::cout << "[ " << arch << " ] " << file << ": float64 max |diff| / max(1, max |torchvision|) = " << err64 << "\n";
  p.backbone->to(torch::kFloat32);
  // The comparison is sharp: the same network without the file's weights is far off.
  auto untrained = make_backbone(arch);
  untrained->eval();
  EXPECT_GT(max_error(untrained->forward(ref.input), ref.output), 1e-2);
}

TEST(TorchvisionResNet, Resnet18MatchesTorchvision) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kResnet18Args);
  expect_matches_torchvision(dir, "resnet18", "resnet18.pth");
}

TEST(TorchvisionResNet, Resnet34And50MatchTorchvision) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kDeepArgs);
  expect_matches_torchvision(dir, "resnet34", "resnet34.pth");
  expect_matches_torchvision(dir, "resnet50", "resnet50.pth");
}

TEST(TorchvisionResNet, LegacyFileAndWrappedCheckpointLoadTheSame) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kResnet18Args);
  expect_matches_torchvision(dir, "resnet18", "resnet18_legacy.pth");
  // {"epoch", "state_dict": {"module.conv1.weight", ...}, "optimizer"}: a DataParallel training checkpoint.
  expect_matches_torchvision(dir, "resnet18", "resnet18_checkpoint.pth");
}

TEST(TorchvisionResNet, ModuleNamesAreTorchvisions) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kDeepArgs);
  for (const std::string arch : {"resnet34", "resnet50"}) {
    std::set<std::string> file, model;
    for (const auto& [name, t] : read_pth((dir / (arch + ".pth")).string()))
      if (name.rfind("fc.", 0) != 0) file.insert(name);
    auto backbone = make_backbone(arch);
    for (const auto& [name, t] : state_dict_of(*backbone)) model.insert(name);
    EXPECT_EQ(model, file) << arch;
  }
}

TEST(TorchvisionResNet, StagesCoverEveryParameterOnce) {
  for (int depth : {18, 34, 50}) {
    ResNetImpl net(depth);
    const auto stages = net.stages();
    EXPECT_EQ(stages.back(), "layer4");
    for (const auto& p : net.named_parameters()) {
      int matches = 0;
      for (const auto& s : stages)
        if (p.key().rfind(s + ".", 0) == 0) ++matches;
      EXPECT_EQ(matches, 1) << p.key();
    }
    EXPECT_EQ(net.feature_channels(), depth == 50 ? 2048 : 512);
    EXPECT_EQ(net.input_spec().normalization, Normalization::ImageNet);
    EXPECT_EQ(net.input_spec().default_size, 224);
    EXPECT_EQ(net.arch(), "resnet" + std::to_string(depth));
    // 224 → 7: an output stride of 32, as torchvision's.
    torch::NoGradGuard no_grad;
    net.eval();
    EXPECT_EQ(net.forward(torch::zeros({1, 3, 224, 224})).sizes().vec(),
              (std::vector<int64_t>{1, net.feature_channels(), 7, 7}));
  }
  EXPECT_THROW(ResNetImpl(101), Error);
}

TEST(TorchvisionResNet, RegisteredUnderTorchvisionNames) {
  for (const std::string name : {"resnet18", "resnet34", "resnet50"}) {
    const auto& info = find_architecture(name);
    EXPECT_EQ(info.layout, "torchvision");
    EXPECT_EQ(make_backbone(name)->arch(), name);
  }
}

}  // namespace
}  // namespace imagefit

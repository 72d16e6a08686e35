// The torchvision-layout backbones against torchvision 0.14 itself: parameter and buffer names and
// shapes equal torchvision's state_dict minus the top, and with the same (random) weights and input
// the feature maps agree, in eval mode and in training mode (batch statistics, stochastic depth,
// BatchNorm momentum). The reference comes from tests/fixtures/tv_param_listing.py run with
// /usr/bin/python3; the tests skip with a message where it or torchvision is missing.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/torchvision_fixtures.h"
#include "models/registry.h"
#include "models/tv_efficientnet.h"
#include "test_support.h"
#include "weights/state_dict.h"
#include "weights/torchvision_pth.h"

namespace imagefit {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Shapes = std::map<std::string, std::vector<int64_t>>;

const char* const kPython = "/usr/bin/python3";

struct Case {
  std::string arch;          // registry name = torchvision builder name
  int height, width;         // input size (small, to keep the test fast)
  std::string extra_widths;  // further width multipliers whose names/shapes are checked ("" for none)
};

const Case kCases[] = {
    {"mobilenet_v2", 64, 80, "0.35,0.5,1.4"},
    {"mobilenet_v3_small", 64, 80, ""},
    {"mobilenet_v3_large", 64, 80, "0.75"},
    // Odd sizes where ceil_mode pooling adds a row/column.
    {"squeezenet1_1", 67, 75, ""},
    {"vgg16", 64, 80, ""},
    {"efficientnet_b0", 64, 80, ""},
};

// gtest prints the case by its architecture name.
void PrintTo(const Case& c, std::ostream* os) { *os << c.arch; }

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Empty when /usr/bin/python3 can import torchvision; else why not.
std::string python_problem() {
  static const std::string problem = [] {
    if (!fs::exists(kPython)) return std::string(kPython) + " is missing";
    auto r = test::run_command(std::string(kPython) + " -c 'import torch, torchvision' 2>&1");
    if (r.exit_code != 0) return std::string(kPython) + " cannot import torch/torchvision: " + r.output;
    return std::string();
  }();
  return problem;
}

#define REQUIRE_TORCHVISION()                                                     \
  do {                                                                            \
    if (!python_problem().empty())                                                \
      GTEST_SKIP() << "skipped: no torchvision reference: " << python_problem(); \
  } while (0)

// index.json + data.bin written by tv_param_listing.py.
struct Reference {
  Json index;
  std::vector<float> data;

  torch::Tensor tensor(const Json& entry) const {
    auto shape = entry.at("shape").get<std::vector<int64_t>>();
    const size_t offset = entry.at("offset").get<size_t>();
    int64_t count = 1;
    for (auto d : shape) count *= d;
    if (offset + static_cast<size_t>(count) > data.size()) throw std::runtime_error("data.bin is too short");
    return torch::from_blob(const_cast<float*>(data.data()) + offset, shape, torch::kFloat).clone();
  }
};

Reference generate(const Case& c) {
  const fs::path dir = fs::temp_directory_path() / ("imagefit_tv_" + c.arch + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const fs::path script = test::source_dir() / "tests" / "fixtures" / "tv_param_listing.py";
  std::ostringstream cmd;
  cmd << kPython << " " << shell_quote(script.string()) << " " << c.arch << " " << shell_quote(dir.string())
      << " --height " << c.height << " --input-width " << c.width;
  if (!c.extra_widths.empty()) cmd << " --extra-widths " << c.extra_widths;
  cmd << " 2>&1";
  auto r = test::run_command(cmd.str());
  if (r.exit_code != 0) {
    fs::remove_all(dir);
    throw std::runtime_error("tv_param_listing.py failed:\n" + r.output);
  }
  Reference ref;
  std::ifstream(dir / "index.json") >> ref.index;
  std::ifstream bin(dir / "data.bin", std::ios::binary | std::ios::ate);
  const auto bytes = static_cast<size_t>(bin.tellg());
  ref.data.resize(bytes / sizeof(float));
  bin.seekg(0);
  bin.read(reinterpret_cast<char*>(ref.data.data()), static_cast<std::streamsize>(bytes));
  fs::remove_all(dir);
  return ref;
}

Shapes backbone_shapes(const Json& state_dict) {
  Shapes out;
  for (const auto& e : state_dict)
    if (!e.at("is_top").get<bool>()) out[e.at("name").get<std::string>()] = e.at("shape").get<std::vector<int64_t>>();
  return out;
}

Shapes module_shapes(torch::nn::Module& m) {
  Shapes out;
  for (auto& [name, t] : state_dict_of(m)) out[name] = t.sizes().vec();
  return out;
}

// Lists the differences between two name → shape maps (empty when equal).
std::string diff_shapes(const Shapes& expected, const Shapes& actual) {
  std::ostringstream s;
  int shown = 0;
  for (auto& [name, shape] : expected) {
    auto it = actual.find(name);
    if (it == actual.end()) {
      if (shown++ < 20) s << "\n  missing in C++: " << name;
    } else if (it->second != shape) {
      if (shown++ < 20) s << "\n  shape differs: " << name << " torchvision " << c10::IntArrayRef(shape) << " C++ "
                          << c10::IntArrayRef(it->second);
    }
  }
  for (auto& [name, shape] : actual)
    if (!expected.count(name) && shown++ < 20) s << "\n  not in torchvision: " << name;
  return s.str();
}

// max |a - b| / max(1, max |b|), and max |a - b| through `abs_diff`.
double relative_diff(const torch::Tensor& a, const torch::Tensor& b, double* abs_diff) {
  *abs_diff = (a - b).abs().max().item<double>();
  return *abs_diff / std::max(1.0, b.abs().max().item<double>());
}

class TorchvisionBackbone : public ::testing::TestWithParam<Case> {};

TEST_P(TorchvisionBackbone, MatchesTorchvision) {
  REQUIRE_TORCHVISION();
  const Case& c = GetParam();
  const Reference ref = generate(c);
  SCOPED_TRACE(c.arch + " vs torchvision " + ref.index.at("torchvision").get<std::string>());

  // Names and shapes: C++ parameters + buffers == torchvision's state_dict minus the top.
  Backbone net = make_backbone(c.arch);
  const Shapes expected = backbone_shapes(ref.index.at("state_dict"));
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(diff_shapes(expected, module_shapes(*net)), "");
  for (const auto& e : ref.index.at("state_dict"))
    if (e.at("is_top").get<bool>())
      EXPECT_EQ(e.at("name").get<std::string>().rfind("classifier.", 0), 0u)
          << "torchvision tensor outside `features` that is not the classifier top";
  for (const auto& extra : ref.index.at("extra")) {
    BackboneOptions options;
    options.alpha = extra.at("width").get<double>();
    Backbone scaled = make_backbone(c.arch, options);
    EXPECT_EQ(diff_shapes(backbone_shapes(extra.at("state_dict")), module_shapes(*scaled)), "")
        << "width multiplier " << options.alpha;
  }

  // The same weights through the strict loader every weight file uses.
  StateDict weights;
  for (const auto& e : ref.index.at("tensors")) weights.emplace_back(e.at("name").get<std::string>(), ref.tensor(e));
  ASSERT_NO_THROW(load_state_dict(*net, weights, c.arch + " reference weights"));

  const torch::Tensor x = ref.tensor(ref.index.at("input"));
  double abs_diff = 0;

  net->eval();
  torch::Tensor eval_out;
  {
    torch::NoGradGuard no_grad;
    eval_out = net->forward(x);
  }
  const torch::Tensor eval_ref = ref.tensor(ref.index.at("eval_output"));
  ASSERT_EQ(eval_out.sizes(), eval_ref.sizes());
  EXPECT_EQ(eval_out.size(1), net->feature_channels());
  const double eval_rel = relative_diff(eval_out, eval_ref, &abs_diff);
  std::cout << "[ parity   ] " << c.arch << " eval  max|diff| = " << abs_diff << " (max|ref| "
            << eval_ref.abs().max().item<double>() << ")\n";
  RecordProperty("eval_max_abs_diff", std::to_string(abs_diff));
  EXPECT_LE(eval_rel, 1e-4);

  // Training mode: batch statistics, stochastic depth drawn from the same seed, running-stat updates.
  net->train();
  torch::manual_seed(ref.index.at("train_seed").get<uint64_t>());
  torch::Tensor train_out;
  {
    torch::NoGradGuard no_grad;
    train_out = net->forward(x);
  }
  const torch::Tensor train_ref = ref.tensor(ref.index.at("train_output"));
  const double train_rel = relative_diff(train_out, train_ref, &abs_diff);
  std::cout << "[ parity   ] " << c.arch << " train max|diff| = " << abs_diff << "\n";
  RecordProperty("train_max_abs_diff", std::to_string(abs_diff));
  EXPECT_LE(train_rel, 1e-4);

  std::map<std::string, torch::Tensor> buffers;
  for (auto& b : net->named_buffers()) buffers[b.key()] = b.value();
  double stats_rel = 0;
  for (const auto& e : ref.index.at("after_train")) {
    const auto name = e.at("name").get<std::string>();
    ASSERT_TRUE(buffers.count(name)) << name;
    stats_rel = std::max(stats_rel, relative_diff(buffers[name], ref.tensor(e), &abs_diff));
  }
  EXPECT_LE(stats_rel, 1e-4) << "BatchNorm running statistics after one training step (momentum)";
}

INSTANTIATE_TEST_SUITE_P(All, TorchvisionBackbone, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.arch; });

TEST(TorchvisionBackbones, RegisteredWithTheirProperties) {
  for (const Case& c : kCases) {
    const ArchInfo& info = find_architecture(c.arch);
    EXPECT_EQ(info.layout, "torchvision") << c.arch;
    Backbone net = info.make({});
    EXPECT_EQ(net->arch(), c.arch);
    EXPECT_EQ(net->input_spec().default_size, 224) << c.arch;
    EXPECT_EQ(net->input_spec().normalization, Normalization::ImageNet) << c.arch;
  }
}

// Stages run from input to output, and every parameter belongs to exactly one of them, so that
// `--unfreeze N` can make the last N trainable.
TEST(TorchvisionBackbones, StagesPartitionTheParametersInOrder) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.arch);
    Backbone net = make_backbone(c.arch);
    const auto stages = net->stages();
    ASSERT_GE(stages.size(), 5u);
    int last_stage = -1;
    std::set<int> used;
    for (auto& p : net->named_parameters()) {
      int owner = -1;
      for (size_t i = 0; i < stages.size(); ++i)
        if (p.key().rfind(stages[i] + ".", 0) == 0) {
          EXPECT_EQ(owner, -1) << p.key() << " is in two stages";
          owner = static_cast<int>(i);
        }
      ASSERT_NE(owner, -1) << p.key() << " is in no stage";
      EXPECT_GE(owner, last_stage) << p.key() << ": stages are not in registration order";
      last_stage = owner;
      used.insert(owner);
    }
    EXPECT_EQ(used.size(), stages.size()) << "a stage without parameters";
  }
}

// The path users take: a torchvision state_dict file (.pth, with its classifier) read by read_pth,
// the architecture recognised, the backbone loaded strictly; the output equals torchvision's.
// One architecture (the script is slow); the parity test above covers every one by name.
TEST(TorchvisionBackbones, LoadFromTorchvisionPthFile) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, "mobilenet_v3_small");
  for (const std::string arch : {"mobilenet_v3_small"}) {
    SCOPED_TRACE(arch);
    const Pretrained p = load_torchvision_backbone((dir / (arch + ".pth")).string(), "");
    EXPECT_EQ(p.arch, arch);
    torch::Tensor input, expected;
    for (auto& [name, t] : read_pth((dir / (arch + "_io.pth")).string())) (name == "input" ? input : expected) = t;
    p.backbone->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor out = p.backbone->forward(input);
    ASSERT_EQ(out.sizes(), expected.sizes());
    double abs_diff = 0;
    EXPECT_LE(relative_diff(out, expected, &abs_diff), 1e-4);
    std::cout << "[ .pth     ] " << arch << " max|diff| = " << abs_diff << "\n";
  }
}

// Stochastic depth (efficientnet_b0's residual branches) acts only in training and follows the seed.
TEST(TorchvisionBackbones, EfficientNetStochasticDepthOnlyInTraining) {
  torch::manual_seed(7);
  auto net = std::make_shared<EfficientNetB0Impl>();
  auto no_drop = std::make_shared<EfficientNetB0Impl>(0.0);
  load_state_dict(*no_drop, state_dict_of(*net), "copy");
  const auto x = torch::randn({4, 3, 32, 32});
  torch::NoGradGuard no_grad;
  auto run = [&](std::shared_ptr<EfficientNetB0Impl> m, uint64_t seed) {
    torch::manual_seed(seed);
    return m->forward(x);
  };
  net->eval();
  no_drop->eval();
  EXPECT_TRUE(torch::allclose(run(net, 1), run(no_drop, 2)));
  net->train();
  no_drop->train();
  EXPECT_TRUE(torch::equal(run(net, 1), run(net, 1)));
  EXPECT_FALSE(torch::allclose(run(net, 1), run(net, 2)));
  EXPECT_TRUE(torch::allclose(run(no_drop, 1), run(no_drop, 2)));
}

}  // namespace
}  // namespace imagefit

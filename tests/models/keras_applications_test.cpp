// The Keras Applications backbones beyond MobileNet (InceptionV3): structure without weights, and
// parity with an independent float64 numpy reference (tests/fixtures/keras_reference.py, run with
// /usr/bin/python3 and h5py) on .h5 files with the real files' layout and random weights, loaded
// through the same path as `--weights FILE`. The tests that need the reference skip with a message
// where /usr/bin/python3 cannot import numpy and h5py.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/input_tensor.h"
#include "models/keras_inception_v3.h"
#include "models/registry.h"
#include "test_support.h"
#include "weights/keras_h5.h"
#include "weights/pretrained.h"

namespace imagefit {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const char* const kPython = "/usr/bin/python3";

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Empty when /usr/bin/python3 can import numpy and h5py; else why not.
std::string python_problem() {
  static const std::string problem = [] {
    if (!fs::exists(kPython)) return std::string(kPython) + " is missing";
    auto r = test::run_command(std::string(kPython) + " -c 'import numpy, h5py' 2>&1");
    if (r.exit_code != 0) return std::string(kPython) + " cannot import numpy/h5py: " + r.output;
    return std::string();
  }();
  return problem;
}

#define REQUIRE_REFERENCE()                                                                  \
  do {                                                                                       \
    if (!python_problem().empty()) GTEST_SKIP() << "skipped: no numpy reference: " << python_problem(); \
  } while (0)

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected imagefit::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected imagefit::Error, nothing was thrown";
  return "";
}

template <typename T>
std::vector<T> read_raw(const fs::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  const auto bytes = static_cast<size_t>(in.tellg());
  std::vector<T> out(bytes / sizeof(T));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size() * sizeof(T)));
  return out;
}

// What keras_reference.py wrote, in a temporary folder removed at the end of the test program.
class Reference {
 public:
  Reference(const std::string& arch, const std::string& sizes, const std::string& layouts) {
    dir_ = fs::temp_directory_path() / ("imagefit_keras_" + arch + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    const fs::path script = test::source_dir() / "tests" / "fixtures" / "keras_reference.py";
    std::ostringstream cmd;
    cmd << kPython << " " << shell_quote(script.string()) << " " << arch << " " << shell_quote(dir_.string())
        << " --sizes " << sizes << " --layout " << layouts << " 2>&1";
    auto r = test::run_command(cmd.str());
    if (r.exit_code != 0) throw std::runtime_error("keras_reference.py failed:\n" + r.output);
    std::ifstream(dir_ / "meta.json") >> meta_;
  }
  ~Reference() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string weights(const std::string& layout) const { return (dir_ / ("weights_" + layout + ".h5")).string(); }
  int64_t batch() const { return meta_.at("batch").get<int64_t>(); }
  int64_t channels() const { return meta_.at("channels").get<int64_t>(); }
  // The N RGB images at `size`.
  std::vector<cv::Mat> images(int size) const {
    const auto pixels = read_raw<uint8_t>(dir_ / ("pixels_" + std::to_string(size) + ".u8"));
    std::vector<cv::Mat> out;
    const size_t each = size_t(size) * size * 3;
    for (int64_t i = 0; i < batch(); ++i) {
      cv::Mat m(size, size, CV_8UC3);
      std::memcpy(m.data, pixels.data() + i * each, each);
      out.push_back(m);
    }
    return out;
  }
  torch::Tensor features(int size) const {
    auto v = read_raw<double>(dir_ / ("features_" + std::to_string(size) + ".f64"));
    return torch::from_blob(v.data(), {batch(), channels()}, torch::kFloat64).clone();
  }

 private:
  fs::path dir_;
  Json meta_;
};

// Pooled features of a loaded backbone, as feature extraction computes them (the backbone's own
// input normalization, global average of its last feature map), in float64.
torch::Tensor pooled(Pretrained& p, const std::vector<cv::Mat>& images) {
  torch::NoGradGuard no_grad;
  auto x = images_to_tensor(images, p.backbone->input_spec().normalization);
  return p.backbone->forward(x).mean({2, 3}).to(torch::kFloat64);
}

// shared/README.md's agreement for the Keras backbones: max |diff| <= 1e-4 * max(1, |ref|).
void expect_parity(const torch::Tensor& got, const torch::Tensor& ref, const std::string& what) {
  ASSERT_EQ(got.sizes(), ref.sizes()) << what;
  const double diff = (got - ref).abs().max().item<double>();
  const double scale = std::max(1.0, ref.abs().max().item<double>());
  std::printf("[ parity ] %s: max |diff| %.3g (max |ref| %.3g, tolerance %.3g)\n", what.c_str(), diff,
              ref.abs().max().item<double>(), 1e-4 * scale);
  EXPECT_LE(diff, 1e-4 * scale) << what;
}

// Parameters and buffers as Keras counts them: moving statistics count, the fixed BatchNorm scale
// of a scale=False layer does not.
int64_t keras_param_count(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.named_parameters()) n += p.value().numel();
  for (const auto& b : m.named_buffers())
    if (b.key().find("running_") != std::string::npos) n += b.value().numel();
  return n;
}

std::vector<int64_t> output_shape(BackboneImpl& b, int64_t h, int64_t w) {
  torch::NoGradGuard no_grad;
  b.eval();
  return b.forward(torch::zeros({1, 3, h, w})).sizes().vec();
}

// backbone.h's rule: a parameter belongs to the last stage whose prefix it starts with; every
// parameter and buffer belongs to one, in the network's order, and no stage is empty.
void expect_stages_partition(BackboneImpl& b) {
  const auto stages = b.stages();
  auto stage_of = [&](const std::string& name) {
    int found = -1;
    for (size_t i = 0; i < stages.size(); ++i) {
      const auto& s = stages[i];
      if (name.rfind(s, 0) == 0 && (name.size() == s.size() || name[s.size()] == '.')) found = static_cast<int>(i);
    }
    return found;
  };
  std::vector<int> owned(stages.size(), 0);
  int last = 0;
  for (const auto& p : b.named_parameters()) {
    const int s = stage_of(p.key());
    ASSERT_GE(s, 0) << p.key();
    EXPECT_GE(s, last) << p.key();
    last = std::max(last, s);
    ++owned[s];
  }
  for (size_t i = 0; i < stages.size(); ++i) EXPECT_GT(owned[i], 0) << stages[i];
  for (const auto& p : b.named_buffers()) EXPECT_GE(stage_of(p.key()), 0) << p.key();
}

// forward(x) == run_stages(run_stages(x, 0, k), k, n) for every k.
void expect_stages_compose(BackboneImpl& b, int64_t size) {
  ASSERT_TRUE(b.can_run_stages());
  torch::NoGradGuard no_grad;
  b.eval();
  torch::manual_seed(3);
  auto x = torch::randn({1, 3, size, size});
  auto full = b.forward(x);
  const size_t n = b.stages().size();
  for (size_t k = 0; k <= n; ++k)
    EXPECT_TRUE(torch::allclose(b.run_stages(b.run_stages(x, 0, k), k, n), full, 1e-5, 1e-5)) << "split at " << k;
}

// --- InceptionV3 ---------------------------------------------------------------------------

TEST(KerasInceptionV3, KerasNamesShapesAndCounts) {
  KerasInceptionV3Impl m;
  const auto params = m.named_parameters();
  const auto buffers = m.named_buffers();
  EXPECT_EQ(params["stem.conv2d_1.weight"].sizes().vec(), (std::vector<int64_t>{32, 3, 3, 3}));
  EXPECT_EQ(params["mixed4.conv2d_33.weight"].sizes().vec(), (std::vector<int64_t>{128, 128, 1, 7}));
  EXPECT_EQ(params["mixed10.conv2d_94.weight"].sizes().vec(), (std::vector<int64_t>{192, 2048, 1, 1}));
  EXPECT_TRUE(params.contains("mixed0.batch_normalization_6.bias"));
  EXPECT_FALSE(params.contains("stem.conv2d_1.bias"));  // use_bias=False
  // scale=False: no trainable gamma; the fixed scale of ones is a buffer.
  EXPECT_FALSE(params.contains("stem.batch_normalization_1.weight"));
  ASSERT_TRUE(buffers.contains("stem.batch_normalization_1.weight"));
  EXPECT_TRUE(torch::equal(buffers["stem.batch_normalization_1.weight"], torch::ones({32})));
  auto* bn = m.named_modules("", false)["mixed3.batch_normalization_27"]->as<torch::nn::BatchNorm2dImpl>();
  ASSERT_NE(bn, nullptr);
  EXPECT_DOUBLE_EQ(bn->options.eps(), 1e-3);
  EXPECT_EQ(m.feature_channels(), 2048);
  EXPECT_EQ(m.input_spec().default_size, 299);
  EXPECT_EQ(m.input_spec().normalization, Normalization::Symmetric);
  // Keras's InceptionV3(include_top=False).summary(): Total params 21,802,784.
  EXPECT_EQ(keras_param_count(m), 21802784);
  // The loader's table is the module's own layers, in order.
  const auto specs = KerasInceptionV3Impl::keras_layers();
  ASSERT_EQ(specs.size(), 188u);
  EXPECT_EQ(specs.front().name, "conv2d_1");
  EXPECT_EQ(specs.back().module, "mixed10.batch_normalization_94");
  for (const auto& s : specs) {
    if (s.kind != "conv2d") continue;
    const auto w = params[s.module + ".weight"];
    EXPECT_EQ(w.sizes().vec(), (std::vector<int64_t>{s.shape[3], s.shape[2], s.shape[0], s.shape[1]})) << s.module;
  }
  EXPECT_EQ(find_architecture("keras-inception-v3").layout, "keras");
  EXPECT_EQ(make_backbone("keras-inception-v3")->arch(), "keras-inception-v3");
}

TEST(KerasInceptionV3, OutputSizesAndMinimum) {
  KerasInceptionV3Impl m;
  EXPECT_EQ(output_shape(m, 299, 299), (std::vector<int64_t>{1, 2048, 8, 8}));
  EXPECT_EQ(output_shape(m, 75, 75), (std::vector<int64_t>{1, 2048, 1, 1}));
  EXPECT_EQ(output_shape(m, 150, 150), (std::vector<int64_t>{1, 2048, 3, 3}));  // Keras: (None, 3, 3, 2048)
  const std::string msg = error_of([&] { output_shape(m, 74, 74); });
  EXPECT_NE(msg.find("at least 75"), std::string::npos) << msg;
}

TEST(KerasInceptionV3, StagesPartitionAndCompose) {
  KerasInceptionV3Impl m;
  const auto stages = m.stages();
  ASSERT_EQ(stages.size(), 12u);
  EXPECT_EQ(stages.front(), "stem");
  EXPECT_EQ(stages[1], "mixed0");
  EXPECT_EQ(stages.back(), "mixed10");
  expect_stages_partition(m);
  expect_stages_compose(m, 75);
}

class KerasInceptionV3Parity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!python_problem().empty()) return;
    ref_ = new Reference("inception_v3", "139,75", "old,new,offset,misfit,missing");
  }
  static void TearDownTestSuite() {
    delete ref_;
    ref_ = nullptr;
  }
  static Reference* ref_;
};
Reference* KerasInceptionV3Parity::ref_ = nullptr;

TEST_F(KerasInceptionV3Parity, OldFileMatchesByNameAndAgrees) {
  REQUIRE_REFERENCE();
  Pretrained p = load_pretrained(ref_->weights("old"));  // --weights FILE alone
  EXPECT_EQ(p.arch, "keras-inception-v3");
  EXPECT_EQ(p.description, "Keras InceptionV3 (21,802,784 parameters; layers matched by name)");
  EXPECT_FALSE(p.backbone->is_training());
  for (int size : {139, 75}) expect_parity(pooled(p, ref_->images(size)), ref_->features(size), "old file, " + std::to_string(size) + " px");
}

TEST_F(KerasInceptionV3Parity, NewerAndOffsetNamesMatchByOrder) {
  REQUIRE_REFERENCE();
  // A saved model with the backbone nested and a Dense head, layers conv2d, conv2d_1, ...; and a
  // weights file numbered from conv2d_95: the same weights, matched by order.
  for (const char* layout : {"new", "offset"}) {
    SCOPED_TRACE(layout);
    Pretrained p = load_pretrained(ref_->weights(layout), "keras-inception-v3");
    EXPECT_EQ(p.arch, "keras-inception-v3");
    EXPECT_EQ(p.description, "Keras InceptionV3 (21,802,784 parameters; layers matched by order)");
    expect_parity(pooled(p, ref_->images(139)), ref_->features(139), std::string(layout) + " file, 139 px");
  }
  // Nothing of the head or the full-top classifier is taken.
  const KerasBackboneWeights w = read_keras_backbone(ref_->weights("new"));
  for (const auto& [name, t] : w.weights) {
    EXPECT_EQ(name.find("dense"), std::string::npos) << name;
    EXPECT_EQ(name.find("predictions"), std::string::npos) << name;
  }
}

TEST_F(KerasInceptionV3Parity, FilesThatDoNotFitAreClearErrors) {
  REQUIRE_REFERENCE();
  // A kernel of the wrong shape: the layer, its place and both shapes are named.
  std::string msg = error_of([] { load_pretrained(ref_->weights("misfit")); });
  EXPECT_NE(msg.find(ref_->weights("misfit")), std::string::npos) << msg;
  EXPECT_NE(msg.find("conv2d_7"), std::string::npos) << msg;
  EXPECT_NE(msg.find("kernel is 5x5x48x64, expected 1x1x192x48"), std::string::npos) << msg;
  // One unit short: not recognised as InceptionV3, and when asked for, the counts are given.
  msg = error_of([] { load_pretrained(ref_->weights("missing")); });
  EXPECT_NE(msg.find("no known Keras backbone"), std::string::npos) << msg;
  msg = error_of([] { load_pretrained(ref_->weights("missing"), "keras-inception-v3"); });
  EXPECT_NE(msg.find("93 conv2d layers"), std::string::npos) << msg;
  EXPECT_NE(msg.find("94"), std::string::npos) << msg;
  // An InceptionV3 file is not a MobileNet, and has no width multiplier.
  msg = error_of([] { load_pretrained(ref_->weights("old"), "keras-mobilenet-v2"); });
  EXPECT_NE(msg.find("keras-inception-v3"), std::string::npos) << msg;
  msg = error_of([] { load_pretrained(ref_->weights("old"), "keras-inception-v3:alpha=0.5"); });
  EXPECT_NE(msg.find("no width multiplier"), std::string::npos) << msg;
}

}  // namespace
}  // namespace imagefit

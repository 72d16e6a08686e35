// The Keras Applications backbones beyond MobileNet (InceptionV3, ResNet50, VGG16/19, Xception): structure without weights, and
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
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/input_tensor.h"
#include "models/keras_inception_v3.h"
#include "models/keras_resnet.h"
#include "models/keras_vgg.h"
#include "models/keras_xception.h"
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
  std::vector<int> sizes() const { return meta_.at("sizes").get<std::vector<int>>(); }
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

// The same in float64: the module converted, its input preprocessed here in float64 as Keras's
// preprocess_input does ("caffe": BGR minus [103.939, 116.779, 123.68]; "tf": x/127.5 - 1). With
// fp32 rounding out of the way what remains is the arithmetic itself, which must agree to 1e-9 of
// the feature scale: a wrong padding, stride or epsilon would not.
void expect_exact_parity(Pretrained& p, const std::vector<cv::Mat>& images, const torch::Tensor& ref,
                         const std::string& what) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> planes;
  for (const auto& m : images)
    planes.push_back(torch::from_blob(m.data, {m.rows, m.cols, 3}, torch::kUInt8).permute({2, 0, 1}).to(torch::kFloat64));
  auto x = torch::stack(planes);
  if (p.backbone->input_spec().normalization == Normalization::Caffe) {
    x = x.flip(1) - torch::tensor({103.939, 116.779, 123.68}, torch::kFloat64).view({1, 3, 1, 1});
  } else {
    ASSERT_EQ(p.backbone->input_spec().normalization, Normalization::Symmetric);
    x = x / 127.5 - 1.0;
  }
  p.backbone->to(torch::kFloat64);
  const auto got = p.backbone->forward(x).mean({2, 3});
  p.backbone->to(torch::kFloat32);
  const double diff = (got - ref).abs().max().item<double>();
  const double scale = std::max(1.0, ref.abs().max().item<double>());
  std::printf("[ parity ] %s, float64: max |diff| %.3g (tolerance %.3g)\n", what.c_str(), diff, 1e-9 * scale);
  EXPECT_LE(diff, 1e-9 * scale) << what;
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


// --- ResNet50, VGG16, VGG19, Xception ----------------------------------------------------------

// Each module's parameters are the loader's table, layer by layer, in Keras's layout.
void expect_specs_match_module(BackboneImpl& m, const std::vector<keras::LayerSpec>& specs) {
  const auto params = m.named_parameters();
  size_t weights = 0;
  for (const auto& s : specs) {
    SCOPED_TRACE(s.module);
    if (s.kind == "batch_normalization") {
      EXPECT_EQ(params[s.module + ".weight"].sizes().vec(), s.shape);
      weights += 2;
      continue;
    }
    const auto& k = s.shape;
    if (s.kind == "separable_conv2d") {
      EXPECT_EQ(params[s.module + ".depthwise.weight"].sizes().vec(), (std::vector<int64_t>{k[2], 1, k[0], k[1]}));
      EXPECT_EQ(params[s.module + ".pointwise.weight"].sizes().vec(), (std::vector<int64_t>{k[3], k[2], 1, 1}));
      weights += 2;
    } else {
      EXPECT_EQ(params[s.module + ".weight"].sizes().vec(), (std::vector<int64_t>{k[3], k[2], k[0], k[1]}));
      ++weights;
    }
    EXPECT_EQ(params.contains(s.module + ".bias"), s.bias);
    weights += s.bias;
  }
  EXPECT_EQ(weights, params.size());  // nothing else is trainable
}

TEST(KerasResNet50, KerasNamesShapesAndCounts) {
  KerasResNetImpl m(KerasResNetImpl::settings("keras-resnet50"));
  const auto params = m.named_parameters();
  EXPECT_EQ(params["conv1.conv1_conv.weight"].sizes().vec(), (std::vector<int64_t>{64, 3, 7, 7}));
  EXPECT_TRUE(params.contains("conv1.conv1_conv.bias"));  // use_bias=True
  EXPECT_EQ(params["conv2_block1.conv2_block1_0_conv.weight"].sizes().vec(), (std::vector<int64_t>{256, 64, 1, 1}));
  EXPECT_EQ(params["conv5_block3.conv5_block3_3_conv.weight"].sizes().vec(), (std::vector<int64_t>{2048, 512, 1, 1}));
  EXPECT_FALSE(params.contains("conv2_block2.conv2_block2_0_conv.weight"));  // identity shortcut
  // The stride is on the first 1x1 of a stage's first block (and its shortcut), as keras.applications.resnet.
  auto modules = m.named_modules("", false);
  auto* c = modules["conv3_block1.conv3_block1_1_conv"]->as<torch::nn::Conv2dImpl>();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->options.stride()->at(0), 2);
  EXPECT_EQ(modules["conv3_block1.conv3_block1_2_conv"]->as<torch::nn::Conv2dImpl>()->options.stride()->at(0), 1);
  auto* bn = modules["conv4_block6.conv4_block6_3_bn"]->as<torch::nn::BatchNorm2dImpl>();
  ASSERT_NE(bn, nullptr);
  EXPECT_DOUBLE_EQ(bn->options.eps(), 1.001e-5);
  EXPECT_EQ(m.input_spec().default_size, 224);
  EXPECT_EQ(m.input_spec().normalization, Normalization::Caffe);
  EXPECT_EQ(m.feature_channels(), 2048);
  // Keras's ResNet50(include_top=False).summary(): Total params 23,587,712.
  EXPECT_EQ(keras_param_count(m), 23587712);
  const auto specs = KerasResNetImpl::keras_layers(KerasResNetImpl::settings("keras-resnet50"));
  EXPECT_EQ(specs.size(), 2u * 53);  // 53 convolutions, each with its BatchNormalization
  expect_specs_match_module(m, specs);
  EXPECT_EQ(make_backbone("keras-resnet50")->arch(), "keras-resnet50");
  // ResNet101/152 are settings of the same module.
  EXPECT_EQ(KerasResNetImpl::keras_layers(KerasResNetImpl::settings("keras-resnet101")).size(), 2u * 104);
}

TEST(KerasResNet50, OutputSizesStagesAndMinimum) {
  KerasResNetImpl m(KerasResNetImpl::settings("keras-resnet50"));
  EXPECT_EQ(output_shape(m, 224, 224), (std::vector<int64_t>{1, 2048, 7, 7}));
  EXPECT_EQ(output_shape(m, 32, 32), (std::vector<int64_t>{1, 2048, 1, 1}));
  EXPECT_EQ(output_shape(m, 45, 45), (std::vector<int64_t>{1, 2048, 2, 2}));
  const std::string msg = error_of([&] { output_shape(m, 31, 31); });
  EXPECT_NE(msg.find("at least 32"), std::string::npos) << msg;
  const auto stages = m.stages();
  ASSERT_EQ(stages.size(), 17u);
  EXPECT_EQ(stages.front(), "conv1");
  EXPECT_EQ(stages.back(), "conv5_block3");
  expect_stages_partition(m);
  expect_stages_compose(m, 32);
}

TEST(KerasVgg, KerasNamesShapesAndCounts) {
  KerasVggImpl vgg16(KerasVggImpl::settings("keras-vgg16")), vgg19(KerasVggImpl::settings("keras-vgg19"));
  EXPECT_EQ(vgg16.named_parameters()["block1.block1_conv1.weight"].sizes().vec(), (std::vector<int64_t>{64, 3, 3, 3}));
  EXPECT_EQ(vgg16.named_parameters()["block5.block5_conv3.bias"].sizes().vec(), (std::vector<int64_t>{512}));
  EXPECT_FALSE(vgg16.named_parameters().contains("block5.block5_conv4.weight"));
  EXPECT_TRUE(vgg19.named_parameters().contains("block3.block3_conv4.weight"));
  // Keras's VGG16 / VGG19(include_top=False).summary(): 14,714,688 and 20,024,384 parameters.
  EXPECT_EQ(keras_param_count(vgg16), 14714688);
  EXPECT_EQ(keras_param_count(vgg19), 20024384);
  expect_specs_match_module(vgg16, KerasVggImpl::keras_layers(KerasVggImpl::settings("keras-vgg16")));
  expect_specs_match_module(vgg19, KerasVggImpl::keras_layers(KerasVggImpl::settings("keras-vgg19")));
  EXPECT_EQ(vgg19.input_spec().normalization, Normalization::Caffe);
  EXPECT_EQ(vgg19.input_spec().default_size, 224);
  EXPECT_EQ(output_shape(vgg16, 224, 224), (std::vector<int64_t>{1, 512, 7, 7}));
  EXPECT_EQ(output_shape(vgg19, 37, 37), (std::vector<int64_t>{1, 512, 1, 1}));
  const std::string msg = error_of([&] { output_shape(vgg16, 31, 40); });
  EXPECT_NE(msg.find("at least 32"), std::string::npos) << msg;
  EXPECT_EQ(vgg16.stages(), (std::vector<std::string>{"block1", "block2", "block3", "block4", "block5"}));
  expect_stages_partition(vgg19);
  expect_stages_compose(vgg19, 32);
  EXPECT_EQ(make_backbone("keras-vgg19")->arch(), "keras-vgg19");
}

TEST(KerasXception, KerasNamesShapesAndCounts) {
  KerasXceptionImpl m;
  const auto params = m.named_parameters();
  EXPECT_EQ(params["block1.block1_conv1.weight"].sizes().vec(), (std::vector<int64_t>{32, 3, 3, 3}));
  EXPECT_FALSE(params.contains("block1.block1_conv1.bias"));
  EXPECT_EQ(params["block2.block2_sepconv1.depthwise.weight"].sizes().vec(), (std::vector<int64_t>{64, 1, 3, 3}));
  EXPECT_EQ(params["block2.block2_sepconv1.pointwise.weight"].sizes().vec(), (std::vector<int64_t>{128, 64, 1, 1}));
  EXPECT_EQ(params["block13.conv2d_4.weight"].sizes().vec(), (std::vector<int64_t>{1024, 728, 1, 1}));
  EXPECT_TRUE(params.contains("block2.batch_normalization_1.weight"));
  auto* bn = m.named_modules("", false)["block7.block7_sepconv2_bn"]->as<torch::nn::BatchNorm2dImpl>();
  ASSERT_NE(bn, nullptr);
  EXPECT_DOUBLE_EQ(bn->options.eps(), 1e-3);
  EXPECT_EQ(m.input_spec().default_size, 299);
  EXPECT_EQ(m.input_spec().normalization, Normalization::Symmetric);
  // Keras's Xception(include_top=False).summary(): Total params 20,861,480.
  EXPECT_EQ(keras_param_count(m), 20861480);
  const auto specs = KerasXceptionImpl::keras_layers();
  expect_specs_match_module(m, specs);
  size_t automatic = 0;
  for (const auto& s : specs) automatic += s.automatic;
  EXPECT_EQ(automatic, 8u);  // the residual conv2d_1..4 and batch_normalization_1..4
  EXPECT_EQ(output_shape(m, 299, 299), (std::vector<int64_t>{1, 2048, 10, 10}));
  EXPECT_EQ(output_shape(m, 71, 71), (std::vector<int64_t>{1, 2048, 3, 3}));
  const std::string msg = error_of([&] { output_shape(m, 70, 70); });
  EXPECT_NE(msg.find("at least 71"), std::string::npos) << msg;
  ASSERT_EQ(m.stages().size(), 14u);
  expect_stages_partition(m);
  expect_stages_compose(m, 71);
}

// One architecture's reference files (keras_reference.py) for the parity and refusal tests.
struct ParityCase {
  const char* arch;     // keras_reference.py's name
  const char* imagefit; // the registry name
  const char* sizes;
  const char* description;  // Pretrained::description for the old file
  const char* misfit_layer;
  const char* misfit_shapes;  // "kernel is A, expected B"
  const char* missing_layer;
  const char* deeper_layer;
};

class KerasApplicationsParity : public ::testing::TestWithParam<ParityCase> {
 protected:
  void SetUp() override {
    if (!python_problem().empty()) return;
    static std::map<std::string, std::unique_ptr<Reference>> refs;  // one run of the script per architecture
    auto& r = refs[GetParam().arch];
    if (!r) r = std::make_unique<Reference>(GetParam().arch, GetParam().sizes, "old,top,new,offset,misfit,missing,deeper,truncated");
    ref_ = r.get();
  }
  Reference* ref_ = nullptr;
};

TEST_P(KerasApplicationsParity, NotopAndTopFilesAgreeWithTheReference) {
  REQUIRE_REFERENCE();
  const ParityCase& c = GetParam();
  for (const char* layout : {"old", "top"}) {
    SCOPED_TRACE(layout);
    Pretrained p = load_pretrained(ref_->weights(layout));  // --weights FILE alone
    EXPECT_EQ(p.arch, c.imagefit);
    EXPECT_EQ(p.description, c.description);
    EXPECT_FALSE(p.backbone->is_training());
    for (int size : ref_->sizes()) {
      const std::string what = std::string(c.arch) + " " + layout + " file, " + std::to_string(size) + " px";
      expect_parity(pooled(p, ref_->images(size)), ref_->features(size), what);
      if (std::string(layout) == "old") expect_exact_parity(p, ref_->images(size), ref_->features(size), what);
    }
  }
  // The full-top file's classifier is not taken.
  for (const auto& [name, t] : read_keras_backbone(ref_->weights("top")).weights) {
    EXPECT_EQ(name.find("fc"), std::string::npos) << name;
    EXPECT_EQ(name.find("predictions"), std::string::npos) << name;
  }
}

TEST_P(KerasApplicationsParity, NestedSavedModelAndOffsetNumbering) {
  REQUIRE_REFERENCE();
  const ParityCase& c = GetParam();
  // A saved model with the backbone nested and a Dense head (conv2d, conv2d_1, ... for the
  // automatically named layers) and a file numbered from after another model: the same weights.
  for (const char* layout : {"new", "offset"}) {
    SCOPED_TRACE(layout);
    Pretrained p = load_pretrained(ref_->weights(layout), c.imagefit);
    EXPECT_EQ(p.arch, c.imagefit);
    const int size = ref_->sizes().front();
    expect_parity(pooled(p, ref_->images(size)), ref_->features(size), std::string(c.arch) + " " + layout + " file");
  }
}

TEST_P(KerasApplicationsParity, FilesThatDoNotFitAreClearErrors) {
  REQUIRE_REFERENCE();
  const ParityCase& c = GetParam();
  // Two layers' weights exchanged: the layer and both shapes named, with the file.
  std::string msg = error_of([&] { load_pretrained(ref_->weights("misfit")); });
  EXPECT_NE(msg.find(ref_->weights("misfit")), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::string("layer ") + c.misfit_layer + " does not fit"), std::string::npos) << msg;
  EXPECT_NE(msg.find(c.misfit_shapes), std::string::npos) << msg;
  // A layer missing: the architecture and the layer named.
  msg = error_of([&] { load_pretrained(ref_->weights("missing")); });
  EXPECT_NE(msg.find(ref_->weights("missing")), std::string::npos) << msg;
  EXPECT_NE(msg.find(c.imagefit), std::string::npos) << msg;
  EXPECT_NE(msg.find(c.missing_layer), std::string::npos) << msg;
  msg = error_of([&] { load_pretrained(ref_->weights("missing"), c.imagefit); });
  EXPECT_NE(msg.find(c.missing_layer), std::string::npos) << msg;
  // A layer of a deeper variant (ResNet101's conv4_block7, VGG19's block3_conv4 in a VGG16 file): refused.
  msg = error_of([&] { load_pretrained(ref_->weights("deeper"), c.imagefit); });
  EXPECT_NE(msg.find(ref_->weights("deeper")), std::string::npos) << msg;
  EXPECT_NE(msg.find(c.deeper_layer), std::string::npos) << msg;
  // Truncated: an error naming the file.
  msg = error_of([&] { load_pretrained(ref_->weights("truncated")); });
  EXPECT_NE(msg.find(ref_->weights("truncated")), std::string::npos) << msg;
  // Another architecture asked for: refused, naming what the file holds.
  const std::string other = std::string(c.imagefit) == "keras-resnet50" ? "keras-xception" : "keras-resnet50";
  msg = error_of([&] { load_pretrained(ref_->weights("old"), other); });
  EXPECT_NE(msg.find(ref_->weights("old")), std::string::npos) << msg;
  EXPECT_NE(msg.find(c.imagefit), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Keras, KerasApplicationsParity,
    ::testing::Values(
        ParityCase{"resnet50", "keras-resnet50", "64,45,32", "Keras ResNet50 (23,587,712 parameters; layers matched by name)",
                   "conv2_block1_1_conv", "kernel is 3x3x64x64, expected 1x1x64x64", "conv5_block3_3_conv",
                   "conv4_block7_1_conv"},
        ParityCase{"vgg16", "keras-vgg16", "48,37", "Keras VGG16 (14,714,688 parameters; layers matched by name)",
                   "block1_conv2", "kernel is 3x3x64x128, expected 3x3x64x64", "block5_conv3", "block3_conv4"},
        ParityCase{"vgg19", "keras-vgg19", "48,37", "Keras VGG19 (20,024,384 parameters; layers matched by name)",
                   "block1_conv2", "kernel is 3x3x64x128, expected 3x3x64x64", "block5_conv4", "block5_conv5"},
        ParityCase{"xception", "keras-xception", "96,71", "Keras Xception (20,861,480 parameters; layers matched by name)",
                   "block2_sepconv1", "depthwise_kernel is 3x3x128x1, expected 3x3x64x1", "block14_sepconv2",
                   "block15_sepconv1"}),
    [](const ::testing::TestParamInfo<ParityCase>& info) { return std::string(info.param.arch); });

// A VGG19 file is VGG19, not VGG16 (whose layer names are a subset of it), and the other way round.
TEST(KerasVggFiles, Vgg19IsNotReadAsVgg16) {
  REQUIRE_REFERENCE();
  Reference vgg19("vgg19", "32", "old");
  EXPECT_EQ(read_keras_backbone(vgg19.weights("old")).arch, "keras-vgg19");
  std::string msg = error_of([&] { load_pretrained(vgg19.weights("old"), "keras-vgg16"); });
  EXPECT_NE(msg.find("keras-vgg19"), std::string::npos) << msg;
}

}  // namespace
}  // namespace imagefit

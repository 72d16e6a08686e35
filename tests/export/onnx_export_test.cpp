// ONNX export against an independent ONNX runtime: every covered architecture is exported, run
// with OpenCV DNN on real images, and compared with imagefit's own forward pass.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include <onnx/onnx_pb.h>  // with ONNX_ML=1 (set by the onnx target): the onnx-ml.pb.h messages

#include "core/error.h"
#include "core/fs.h"
#include "export/onnx_export.h"
#include "export/onnx_graph_builder.h"
#include "export/onnx_module_converters.h"
#include "export_test_util.h"
#include "weights/pretrained.h"

namespace imagefit {
namespace {

using test::make_model;
using test::max_abs_diff;
using test::TestModel;

constexpr double kTolerance = 1e-4;

struct Diffs {
  double probabilities = 0, logits = 0;
};

// Exports `m` (both outputs), runs the ONNX graph with OpenCV on real images and compares with
// imagefit's forward pass: absolute differences of probabilities and logits, and how well the
// graph reproduces the part of the logits that depends on the image (random deep networks map
// all images to similar outputs, so that part can be small; a dead network has none).
Diffs compare_with_opencv(TestModel& m, bool include_normalization, const std::string& label) {
  ExportOptions options;
  options.outputs = ExportOutputs::Both;
  options.include_normalization = include_normalization;
  ExportSummary summary;
  const std::string bytes = onnx_model_bytes(m.spec, m.net, options, &summary);
  EXPECT_EQ(summary.output_names, (std::vector<std::string>{"probabilities", "logits"}));

  const auto images = test::test_images(m.spec.image_size);
  const torch::Tensor normalized = test::normalized_batch(images, m.spec.normalization);
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    m.net->eval();
    logits = m.net->forward(normalized);
  }
  const torch::Tensor probabilities = torch::softmax(logits, 1);
  const auto out = test::run_opencv(bytes, include_normalization ? test::pixel_batch(images) : normalized,
                                    {"probabilities", "logits"});
  Diffs d;
  d.probabilities = max_abs_diff(out.at(0), probabilities);
  d.logits = max_abs_diff(out.at(1), logits);
  const double logit_max = logits.abs().max().item<double>();
  const torch::Tensor variation = logits - logits.mean(0);
  const double variation_max = variation.abs().max().item<double>();
  const double variation_error = max_abs_diff(out.at(1) - out.at(1).mean(0), variation) / variation_max;
  std::printf("[ measured ] %-44s %zu images  max|diff| probabilities %.1e  logits %.1e  (|logits| <= %.2f; "
              "image-dependent part %.1e, reproduced to %.1e of it; %lld nodes, %.1f MB)\n",
              label.c_str(), images.size(), d.probabilities, d.logits, logit_max, variation_max, variation_error,
              summary.nodes, double(bytes.size()) / 1e6);
  EXPECT_GT(variation_max, 1e-5) << label << ": the network gives the same logits for every image";
  EXPECT_LE(d.probabilities, kTolerance) << label;
  EXPECT_LE(d.logits, kTolerance * std::max(1.0, logit_max)) << label;
  // 1% of the image-dependent part, but never below float32 noise (random deep networks such as
  // EfficientNet map all images to logits that differ by only ~1e-5).
  EXPECT_LE(variation_error * variation_max, std::max(1e-2 * variation_max, 1e-6)) << label;
  return d;
}

void check_architecture(const std::string& arch, int size, double alpha = 1.0) {
  TestModel m = make_model(arch, size, alpha);
  compare_with_opencv(m, false, arch + " " + std::to_string(size) + "px" +
                                    (alpha != 1.0 ? " alpha " + std::to_string(alpha).substr(0, 4) : ""));
}

TEST(OnnxExport, SimpleCnnTutorialSize) {
  TestModel m = make_model("simple-cnn", 180, 1.0, "flatten");
  compare_with_opencv(m, false, "simple-cnn 180px flatten head");
}

TEST(OnnxExport, SimpleCnnSmallSizesUseSamePaddingAndSkipPools) {
  // 64: the last convolutions switch to 'same'; 16: pools are skipped on a single pixel.
  for (int size : {64, 16}) {
    TestModel m = make_model("simple-cnn", size, 1.0, "flatten", /*hidden=*/32);
    compare_with_opencv(m, false, "simple-cnn " + std::to_string(size) + "px flatten+hidden");
  }
}

TEST(OnnxExport, KerasMobileNetV1) {
  check_architecture("keras-mobilenet-v1", 224, 0.25);
  check_architecture("keras-mobilenet-v1", 160, 0.5);
}

TEST(OnnxExport, KerasMobileNetV2) {
  check_architecture("keras-mobilenet-v2", 224, 0.35);
  // Odd and small sizes: "same" padding then differs between layers (sometimes symmetric).
  check_architecture("keras-mobilenet-v2", 97, 1.0);
}

TEST(OnnxExport, KerasPaddingIsInTheConvolution) {
  // Keras's bottom/right ZeroPadding2D must be folded into asymmetric Conv pads [0, 0, 1, 1].
  TestModel m = make_model("keras-mobilenet-v2", 224, 0.35);
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(onnx_model_bytes(m.spec, m.net, {})));
  int asymmetric = 0;
  for (const auto& n : model.graph().node()) {
    EXPECT_NE(n.op_type(), "Pad");
    for (const auto& a : n.attribute())
      if (a.name() == "pads" && a.ints_size() == 4 && a.ints(0) == 0 && a.ints(2) == 1) ++asymmetric;
  }
  EXPECT_EQ(asymmetric, 5);  // the stem and the four stride-2 depthwise convolutions at 224
}

TEST(OnnxExport, TorchvisionResNet) {
  check_architecture("resnet18", 224);
  check_architecture("resnet50", 128);
}

TEST(OnnxExport, TorchvisionMobileNets) {
  check_architecture("mobilenet_v2", 224);
  check_architecture("mobilenet_v3_small", 224);
  check_architecture("mobilenet_v3_large", 224);
}

TEST(OnnxExport, TorchvisionEfficientNetB0) { check_architecture("efficientnet_b0", 224); }

TEST(OnnxExport, TorchvisionSqueezeNet) {
  check_architecture("squeezenet1_1", 224);
  check_architecture("squeezenet1_1", 227);
}

TEST(OnnxExport, TorchvisionVgg16) { check_architecture("vgg16", 96); }

TEST(OnnxExport, NormalizationInsideTheGraph) {
  // The graph takes 0..255 RGB and must give what imagefit gives after its own preprocessing,
  // for each normalization (Caffe also reorders the planes to BGR).
  for (const auto& [arch, normalization] :
       std::vector<std::pair<std::string, Normalization>>{{"simple-cnn", Normalization::Unit},
                                                          {"keras-mobilenet-v2", Normalization::Symmetric},
                                                          {"resnet18", Normalization::ImageNet},
                                                          {"squeezenet1_1", Normalization::Caffe}}) {
    TestModel m = make_model(arch, arch == "simple-cnn" ? 64 : 160, arch == "keras-mobilenet-v2" ? 0.35 : 1.0, "avg", 0,
                             normalization);
    compare_with_opencv(m, true, arch + " + normalization " + to_string(normalization));
  }
}

TEST(OnnxExport, RealKerasWeights) {
  IMAGEFIT_REQUIRE_SHARED("weights/keras/mobilenet_2_5_224_tf_no_top.h5");
  IMAGEFIT_REQUIRE_SHARED("weights/keras/teachable_machine_mobilenet_v2_0.35_224.h5");
  for (const char* file : {"mobilenet_2_5_224_tf_no_top.h5", "teachable_machine_mobilenet_v2_0.35_224.h5"}) {
    const Pretrained p = load_pretrained((test::shared_dir() / "weights/keras" / file).string());
    TestModel m;
    m.spec.arch = p.arch;
    m.spec.backbone = p.options;
    m.spec.image_size = 224;
    m.spec.normalization = p.backbone->input_spec().normalization;
    m.spec.classes = {"a", "b", "c", "d"};
    m.spec.head.in_features = p.backbone->feature_channels();
    m.spec.head.classes = 4;
    m.net = Classifier(p.backbone, m.spec.head);
    torch::manual_seed(7);
    {
      torch::NoGradGuard no_grad;  // a head with some spread; the backbone keeps its real weights
      m.net->head()->named_parameters()["fc.weight"].normal_(0, 0.2);
    }
    for (bool inside : {false, true})
      compare_with_opencv(m, inside, std::string(file) + (inside ? " +normalization" : ""));
  }
}

TEST(OnnxExport, MetadataAndNames) {
  TestModel m = make_model("resnet18", 64);
  ExportOptions options;
  options.include_normalization = true;
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(onnx_model_bytes(m.spec, m.net, options)));
  EXPECT_EQ(model.opset_import(0).version(), 13);
  ASSERT_EQ(model.graph().input_size(), 1);
  EXPECT_EQ(model.graph().input(0).name(), "input");
  EXPECT_EQ(model.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "N");
  EXPECT_EQ(model.graph().input(0).type().tensor_type().shape().dim(2).dim_value(), 64);
  ASSERT_EQ(model.graph().output_size(), 1);  // default: probabilities only
  EXPECT_EQ(model.graph().output(0).name(), "probabilities");
  std::map<std::string, std::string> meta;
  for (const auto& p : model.metadata_props()) meta[p.key()] = p.value();
  EXPECT_EQ(meta["imagefit.classes"], R"(["alpha","beta","gamma"])");
  EXPECT_EQ(meta["imagefit.normalization"], "imagenet");
  EXPECT_EQ(meta["imagefit.input"], "rgb_0_255");
  EXPECT_EQ(meta["imagefit.image_size"], "64");
  // Weights keep the model file's names.
  bool found = false;
  for (const auto& init : model.graph().initializer()) found |= init.name() == "backbone.layer1.0.conv1.weight";
  EXPECT_TRUE(found);
  // No Dropout: the graph is for inference.
  for (const auto& n : model.graph().node()) EXPECT_NE(n.op_type(), "Dropout");
}

TEST(OnnxExport, UncoveredArchitectureIsAClearError) {
  // Every registered architecture is either covered or refused with its name.
  const auto covered = onnx_exportable_architectures();
  for (const auto& a : architectures()) {
    if (std::find(covered.begin(), covered.end(), a.name) != covered.end()) continue;
    TestModel m;
    m.spec.arch = a.name;
    m.spec.classes = {"x", "y"};
    m.spec.image_size = 224;
    m.net = build_network(m.spec);
    try {
      onnx_model_bytes(m.spec, m.net, {});
      ADD_FAILURE() << a.name << " is not in the covered list but exported";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + a.name + "'"), std::string::npos) << e.what();
    }
  }
  // An architecture this version does not know (a model file from a newer imagefit, say).
  TestModel m = make_model("simple-cnn", 32);
  m.spec.arch = "inception_v3";
  try {
    onnx_model_bytes(m.spec, m.net, {});
    FAIL() << "exported an uncovered architecture";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("does not cover architecture 'inception_v3'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("simple-cnn"), std::string::npos) << "the message lists what is covered: " << msg;
  }
}

TEST(OnnxExport, UnknownModuleKindIsAClearError) {
  // A module with no converter is named, with its type, rather than exported wrongly.
  struct NetImpl : torch::nn::Module {
    NetImpl() { register_module("features", torch::nn::Sequential(torch::nn::Conv2d(3, 4, 3), torch::nn::ELU())); }
  };
  auto net = std::make_shared<NetImpl>();
  onnx_export::OnnxGraphBuilder b("test");
  onnx_export::ModuleConverter c(b, *net);
  const auto x = b.add_input("input", {-1, 3, 8, 8});
  try {
    c.forward(x, "features");
    FAIL() << "converted an ELU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'features.1'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ELU"), std::string::npos) << e.what();
  }
}

TEST(OnnxExport, ExportModelWritesTheFileFromAModelFile) {
  TempDir dir;
  TestModel m = make_model("keras-mobilenet-v1", 128, 0.25);
  const std::string model_path = (dir.path() / "m.imagefit").string();
  save_model(model_path, m.spec, {}, m.net);
  ExportOptions options;
  const std::string out = (dir.path() / "sub/m.onnx").string();
  const ExportSummary s = export_model(model_path, out, options);
  EXPECT_EQ(s.path, out);
  EXPECT_TRUE(fs::exists(out));
  EXPECT_EQ(s.bytes, static_cast<long long>(fs::file_size(out)));
  EXPECT_EQ(s.classes, m.spec.classes);
  // What was written is what OpenCV runs: same probabilities as the loaded model file.
  const std::string bytes = read_file(out);
  const auto images = test::test_images(128);
  SavedModel loaded = load_model(model_path);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = test::normalized_batch(images, loaded.spec.normalization);
  const torch::Tensor expected = torch::softmax(loaded.network->forward(x), 1);
  const auto got = test::run_opencv(bytes, x, {"probabilities"});
  EXPECT_LE(max_abs_diff(got.at(0), expected), kTolerance);
  // No temporary files left beside it.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path() / "sub")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

// A calibrated model's probabilities are softmax(logits / T) in the exported graph, as imagefit
// shows them; the logits output stays the network's own.
TEST(OnnxExport, ProbabilitiesAreAtTheModelsTemperature) {
  TempDir dir;
  TestModel m = make_model("simple-cnn", 64);
  const std::string model_path = (dir.path() / "m.imagefit").string();
  save_model(model_path, m.spec, {{"inference", {{"temperature", 2.5}}}}, m.net);
  ExportOptions options;
  options.outputs = ExportOutputs::Both;
  const std::string out = (dir.path() / "m.onnx").string();
  export_model(model_path, out, options);
  const auto images = test::test_images(64);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = test::normalized_batch(images, m.spec.normalization);
  const torch::Tensor logits = m.net->forward(x);
  const auto got = test::run_opencv(read_file(out), x, {"probabilities", "logits"});
  EXPECT_LE(max_abs_diff(got.at(0), torch::softmax(logits / 2.5, 1)), kTolerance);
  EXPECT_GT(max_abs_diff(got.at(0), torch::softmax(logits, 1)), 1e-3) << "T = 2.5 should change the probabilities";
  EXPECT_LE(max_abs_diff(got.at(1), logits), 1e-4 * std::max(1.0, logits.abs().max().item<double>()));
}

TEST(OnnxExport, PythonOnnxCheckerAcceptsTheFile) {
  const auto probe = test::run_command("/usr/bin/python3 -c 'import onnx' 2>&1");
  if (probe.exit_code != 0)
    GTEST_SKIP() << "skipped: /usr/bin/python3 has no 'onnx' package (apt-get install python3-onnx); "
                    "the export already passes ONNX's C++ checker and strict shape inference";
  TempDir dir;
  for (const auto& [arch, size] : std::vector<std::pair<std::string, int>>{
           {"keras-mobilenet-v2", 96}, {"mobilenet_v3_small", 96}, {"squeezenet1_1", 96}, {"simple-cnn", 64}}) {
    TestModel m = make_model(arch, size, arch == "keras-mobilenet-v2" ? 0.35 : 1.0);
    ExportOptions options;
    options.outputs = ExportOutputs::Both;
    options.include_normalization = true;
    const fs::path path = dir.path() / (arch + ".onnx");
    atomic_write_text(path, onnx_model_bytes(m.spec, m.net, options));
    const auto r = test::run_command(
        "/usr/bin/python3 -c \"import onnx, sys; m = onnx.load(sys.argv[1]); "
        "onnx.checker.check_model(m, full_check=True); "
        "print('ok', m.opset_import[0].version, [o.name for o in m.graph.output])\" " +
        path.string());
    EXPECT_EQ(r.exit_code, 0) << arch << ": " << r.output;
    EXPECT_NE(r.output.find("ok 13 ['probabilities', 'logits']"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace imagefit

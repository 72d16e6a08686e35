// TorchScript export: the traced file, loaded back with torch::jit::load (and with Python's
// torch.jit.load when /usr/bin/python3 has torch), gives imagefit's outputs.
#include <torch/script.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/fs.h"
#include "export/torchscript_export.h"
#include "export_test_util.h"

namespace imagefit {
namespace {

using test::make_model;
using test::max_abs_diff;
using test::TestModel;

torch::jit::Module round_trip(TestModel& m, const ExportOptions& options, std::string* json = nullptr) {
  std::stringstream buffer;
  write_torchscript(m.spec, m.net, options, buffer);
  torch::jit::ExtraFilesMap extra{{"imagefit.json", ""}};
  buffer.seekg(0);
  torch::jit::Module loaded = torch::jit::load(buffer, torch::kCPU, extra);
  if (json) *json = extra["imagefit.json"];
  return loaded;
}

void check_architecture(const std::string& arch, int size, double alpha = 1.0) {
  TestModel m = make_model(arch, size, alpha);
  ExportOptions options;
  options.format = ExportFormat::TorchScript;
  options.outputs = ExportOutputs::Both;
  torch::jit::Module script = round_trip(m, options);
  script.eval();
  const auto images = test::test_images(size);
  const torch::Tensor x = test::normalized_batch(images, m.spec.normalization);
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = m.net->forward(x);
  const auto out = script.forward({x}).toTuple();
  const double dp = max_abs_diff(out->elements()[0].toTensor(), torch::softmax(logits, 1));
  const double dl = max_abs_diff(out->elements()[1].toTensor(), logits);
  std::printf("[ measured ] TorchScript %-30s %zu images  max|diff| probabilities %.2e  logits %.2e\n",
              (arch + " " + std::to_string(size) + "px").c_str(), images.size(), dp, dl);
  EXPECT_LE(dp, 1e-5) << arch;
  EXPECT_LE(dl, 1e-5 * std::max(1.0, logits.abs().max().item<double>())) << arch;
}

TEST(TorchScriptExport, SimpleCnn) { check_architecture("simple-cnn", 180); }
TEST(TorchScriptExport, KerasMobileNets) {
  check_architecture("keras-mobilenet-v1", 160, 0.25);
  check_architecture("keras-mobilenet-v2", 224, 0.35);
}
TEST(TorchScriptExport, Torchvision) {
  check_architecture("resnet18", 128);
  check_architecture("mobilenet_v3_small", 128);
  check_architecture("efficientnet_b0", 128);
  check_architecture("squeezenet1_1", 128);
}

TEST(TorchScriptExport, ParametersNamesMetadataAndNormalization) {
  TestModel m = make_model("keras-mobilenet-v2", 96, 0.35);
  ExportOptions options;
  options.format = ExportFormat::TorchScript;
  options.include_normalization = true;
  std::string json;
  torch::jit::Module script = round_trip(m, options, &json);
  // Parameters are attributes with the model file's names, not constants baked into the code.
  std::map<std::string, torch::Tensor> params;
  for (const auto& p : script.named_parameters()) params[p.name] = p.value;
  int64_t expected = 0;
  for (const auto& p : m.net->named_parameters()) {
    ++expected;
    ASSERT_TRUE(params.count(p.key())) << p.key() << " missing from the TorchScript module";
    EXPECT_TRUE(torch::equal(params[p.key()], p.value())) << p.key();
  }
  EXPECT_EQ(int64_t(params.size()), expected);
  const auto meta = nlohmann::json::parse(json);
  EXPECT_EQ(meta["classes"], nlohmann::json(m.spec.classes));
  EXPECT_EQ(meta["input"], "rgb_0_255");
  // With the normalization inside, 0..255 pixels give what imagefit gives after preprocessing;
  // batch size other than the traced one.
  const auto images = test::test_images(96);
  torch::NoGradGuard no_grad;
  const torch::Tensor expected_probs =
      torch::softmax(m.net->forward(test::normalized_batch(images, m.spec.normalization)), 1);
  const torch::Tensor got = script.forward({test::pixel_batch(images)}).toTensor();
  EXPECT_LE(max_abs_diff(got, expected_probs), 1e-5);
}

// export_model takes the model file's temperature: probabilities softmax(logits / T), logits as they are.
TEST(TorchScriptExport, ProbabilitiesAreAtTheModelsTemperature) {
  TempDir dir;
  TestModel m = make_model("simple-cnn", 64);
  const std::string model_path = (dir.path() / "m.imagefit").string();
  save_model(model_path, m.spec, {{"inference", {{"temperature", 0.4}}}}, m.net);
  ExportOptions options;
  options.format = ExportFormat::TorchScript;
  options.outputs = ExportOutputs::Both;
  const std::string out = (dir.path() / "m.pt").string();
  export_model(model_path, out, options);
  torch::jit::ExtraFilesMap extra{{"imagefit.json", ""}};
  torch::jit::Module script = torch::jit::load(out, torch::kCPU, extra);
  script.eval();
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(extra["imagefit.json"])["temperature"].get<double>(), 0.4);
  const auto images = test::test_images(64);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = test::normalized_batch(images, m.spec.normalization);
  const torch::Tensor logits = m.net->forward(x);
  const auto result = script.forward({x}).toTuple();
  EXPECT_LE(max_abs_diff(result->elements()[0].toTensor(), torch::softmax(logits / 0.4, 1)), 1e-5);
  EXPECT_GT(max_abs_diff(result->elements()[0].toTensor(), torch::softmax(logits, 1)), 1e-3);
  EXPECT_LE(max_abs_diff(result->elements()[1].toTensor(), logits), 1e-5 * std::max(1.0, logits.abs().max().item<double>()));
}

TEST(TorchScriptExport, PythonTorchLoadsTheFile) {
  const auto probe = test::run_command("/usr/bin/python3 -c 'import torch' 2>&1");
  if (probe.exit_code != 0) GTEST_SKIP() << "skipped: /usr/bin/python3 has no torch to load the file with";
  TempDir dir;
  TestModel m = make_model("resnet18", 64);
  const fs::path model_path = dir.path() / "m.imagefit", pt = dir.path() / "m.pt";
  save_model(model_path.string(), m.spec, {}, m.net);
  ExportOptions options;
  options.format = ExportFormat::TorchScript;
  export_model(model_path.string(), pt.string(), options);
  // Input and expected output as raw float32 files for numpy.
  const auto images = test::test_images(64);
  const torch::Tensor x = test::normalized_batch(images, m.spec.normalization).contiguous();
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = torch::softmax(m.net->forward(x), 1).contiguous();
  }
  auto write_raw = [](const fs::path& p, const torch::Tensor& t) {
    atomic_write(p, [&](std::ostream& o) { o.write(static_cast<const char*>(t.data_ptr()), t.numel() * 4); });
  };
  write_raw(dir.path() / "x.f32", x);
  write_raw(dir.path() / "y.f32", expected);
  const std::string script =
      "import sys, numpy as np, torch\n"
      "d = sys.argv[1]; n = int(sys.argv[2])\n"
      "m = torch.jit.load(d + '/m.pt')\n"
      "x = torch.from_numpy(np.fromfile(d + '/x.f32', dtype=np.float32).reshape(n, 3, 64, 64))\n"
      "y = np.fromfile(d + '/y.f32', dtype=np.float32).reshape(n, -1)\n"
      "with torch.no_grad(): p = m(x).numpy()\n"
      "print('maxdiff %.3e' % np.abs(p - y).max())\n"
      "sys.exit(0 if np.abs(p - y).max() <= 1e-5 else 1)\n";
  atomic_write_text(dir.path() / "check.py", script);
  const auto r = test::run_command("/usr/bin/python3 " + (dir.path() / "check.py").string() + " " +
                                   dir.path().string() + " " + std::to_string(images.size()));
  std::printf("[ measured ] TorchScript resnet18 64px loaded in Python: %s", r.output.c_str());
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace imagefit

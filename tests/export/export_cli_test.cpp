// `imagefit export` from the command line: writes the file, says what it wrote, fails clearly.
#include "core/fs.h"
#include "export/export_options.h"
#include "export_test_util.h"

namespace imagefit {
namespace {

bool export_command_registered() {
  const auto r = test::run_command(test::imagefit_binary().string() + " export --help");
  return r.exit_code == 0 && r.output.find("--include-normalization") != std::string::npos;
}

TEST(ExportCli, WritesOnnxAndTorchScript) {
  if (!export_command_registered())
    GTEST_SKIP() << "skipped: this imagefit binary has no 'export' command yet (add_export_command is not "
                    "registered in src/cli/main.cpp)";
  TempDir dir;
  test::TestModel m = test::make_model("keras-mobilenet-v1", 96, 0.25);
  const fs::path model = dir.path() / "m.imagefit";
  save_model(model.string(), m.spec, {}, m.net);
  const std::string bin = test::imagefit_binary().string();

  const auto onnx = test::run_command(bin + " export " + model.string() + " --format onnx -o " +
                                      (dir.path() / "m.onnx").string() + " --include-normalization");
  ASSERT_EQ(onnx.exit_code, 0) << onnx.output;
  EXPECT_TRUE(fs::exists(dir.path() / "m.onnx"));
  EXPECT_NE(onnx.output.find("wrote " + (dir.path() / "m.onnx").string()), std::string::npos) << onnx.output;
  EXPECT_NE(onnx.output.find("ONNX opset 13"), std::string::npos) << onnx.output;
  EXPECT_NE(onnx.output.find("RGB 0..255"), std::string::npos) << onnx.output;
  EXPECT_NE(onnx.output.find("alpha, beta, gamma"), std::string::npos) << onnx.output;

  const auto ts = test::run_command(bin + " export " + model.string() + " --format torchscript -o " +
                                    (dir.path() / "m.pt").string());
  ASSERT_EQ(ts.exit_code, 0) << ts.output;
  EXPECT_TRUE(fs::exists(dir.path() / "m.pt"));
  EXPECT_NE(ts.output.find("TorchScript"), std::string::npos) << ts.output;

  // Errors: a file that is not a model, an unknown format. Nothing is written.
  atomic_write_text(dir.path() / "bad.imagefit", "not a model");
  const auto bad = test::run_command(bin + " export " + (dir.path() / "bad.imagefit").string() + " -o " +
                                     (dir.path() / "bad.onnx").string());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("bad.imagefit"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(dir.path() / "bad.onnx"));
  const auto fmt = test::run_command(bin + " export " + model.string() + " --format tflite -o x.tflite");
  EXPECT_NE(fmt.exit_code, 0);
  EXPECT_NE(fmt.output.find("tflite"), std::string::npos) << fmt.output;
}

}  // namespace
}  // namespace imagefit

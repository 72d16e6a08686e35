// A nan/inf loss stops training with a message that suggests a smaller --lr, keeps the best epoch
// before it (a loadable model), exits 1; with no epoch before it, no model is written.
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/fs.h"
#include "test_support.h"

using namespace imagefit;
using imagefit::test::imagefit_binary;
using imagefit::test::run_command;
using imagefit::test::source_dir;

namespace {
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }
fs::path sample() { return source_dir() / "data/sample-sign-digits"; }
}  // namespace

TEST(DivergenceCli, ANanLossKeepsTheLastGoodEpochAndSuggestsASmallerLr) {
  const fs::path dir = fs::temp_directory_path() / ("imagefit_diverge_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path model = dir / "m.imagefit";
  // The probe (a convex fit, finite) is epoch 1; fine-tuning with SGD at lr 1e36 overflows at once.
  auto r = run_command(imagefit_binary().string() + " train " + q(sample()) +
                       " --strategy fine-tune --image-size 96 --epochs 3 --optimizer sgd --lr 1e36 -o " + q(model));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("training diverged"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fine-tune epoch 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("kept epoch 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("try a smaller --lr (e.g. 1e+35)"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Exception raised from"), std::string::npos) << r.output;
  // The kept model is the probe's: finite, loadable, and it records why training stopped.
  auto info = run_command(imagefit_binary().string() + " info " + q(model) + " --json");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  const auto j = nlohmann::json::parse(info.output.substr(info.output.find('{')));
  EXPECT_EQ(j["training"]["best_epoch"], 1);
  EXPECT_LT(j["training"]["val_loss"].get<double>(), 3.0);
  EXPECT_NE(j["training"]["stopped"].get<std::string>().find("diverged"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "m.imagefit.resume")) << "a resume would only diverge again";

  // From scratch, diverging in the first epoch: nothing good to keep, so nothing is written.
  const fs::path scratch = dir / "s.imagefit";
  r = run_command(imagefit_binary().string() + " train " + q(sample()) +
                  " --arch simple-cnn --image-size 32 --epochs 2 --optimizer sgd --lr 1e36 -q -o " + q(scratch));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no model written"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(scratch));
  fs::remove_all(dir);
}

// The command line as a hostile or hurried user meets it: every out-of-range value is an error naming
// the option and its range (exit 2) before any work, never a silent default or a trace; mistyped words
// get a suggestion; outputs never land on an input or an existing model.
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "core/fs.h"
#include "test_support.h"

using namespace imagefit;
using imagefit::test::imagefit_binary;
using imagefit::test::run_command;
using imagefit::test::source_dir;

namespace {
std::string bin() { return imagefit_binary().string(); }
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }
fs::path sample() { return source_dir() / "data/sample-sign-digits"; }

// Exit 2, one "imagefit: error:" line that contains every `parts`, and no LibTorch/CLI11 dump.
void expect_usage_error(const std::string& args, const std::vector<std::string>& parts) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run_command(bin() + " " + args);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
  EXPECT_EQ(r.output.rfind("imagefit: error: ", 0), 0u) << args << "\n" << r.output;
  for (const auto& p : parts) EXPECT_NE(r.output.find(p), std::string::npos) << args << ": no '" << p << "' in\n" << r.output;
  EXPECT_EQ(r.output.find("c10::Error"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Exception raised from"), std::string::npos) << r.output;
  EXPECT_LT(seconds, 20) << args << ": the value must be refused before any work";
}

std::string file_hash(const fs::path& p) { return read_file(p); }

void write_png(const fs::path& p, int value) {
  fs::create_directories(p.parent_path());
  cv::imwrite(p.string(), cv::Mat(32, 32, CV_8UC3, cv::Scalar(value, 255 - value, 40)));
}
}  // namespace

TEST(OptionsCli, OutOfRangeNumbersAreErrorsNamingTheOptionAndRange) {
  const std::string data = q(sample());
  // The probe cases: each was silently replaced by a default, or crashed with a trace.
  expect_usage_error("train " + data + " --dropout 2", {"--dropout", "2", "[0, 1)"});
  expect_usage_error("train " + data + " --dropout -1", {"--dropout", "[0, 1)"});
  expect_usage_error("train " + data + " --weight-decay -1", {"--weight-decay", "[0, 1]"});
  expect_usage_error("train " + data + " --optimizer sgd --momentum -1", {"--momentum", "[0, 1)"});
  expect_usage_error("train " + data + " --image-size 100000", {"--image-size", "100000", "16 and 1024"});
  expect_usage_error("train " + data + " --image-size 0", {"--image-size", "16 and 1024"});
  expect_usage_error("train " + data + " --epochs 0", {"--epochs", "1 and"});
  expect_usage_error("train " + data + " --epochs -1", {"--epochs"});
  expect_usage_error("train " + data + " --lr -1", {"--lr", "greater than 0"});
  expect_usage_error("train " + data + " --lr 0", {"--lr", "greater than 0"});
  expect_usage_error("train " + data + " --lr nan", {"--lr", "finite"});
  expect_usage_error("train " + data + " --batch-size 0", {"--batch-size", "1 and 4096"});
  expect_usage_error("train " + data + " --val-split 1.5", {"--val-split"});
  expect_usage_error("train " + data + " --patience -2", {"--patience"});
  expect_usage_error("train " + data + " --epochs three", {"--epochs", "not a whole number"});
  expect_usage_error("train " + data + " --time-budget 2x", {"--time-budget", "90s, 2m"});
}

TEST(OptionsCli, HangsAndThreadStormsAreRefused) {
  // evaluate --batch-size 0 spun forever; predict --threads 100000 started 1,500+ threads.
  const fs::path any = sample() / "0" / "IMG_1118.JPG";
  const std::string model = q(source_dir() / "README.md");  // never opened: the options fail first
  expect_usage_error("evaluate " + model + " " + q(sample()) + " --batch-size 0", {"--batch-size", "1 and 4096"});
  expect_usage_error("predict " + model + " " + q(any) + " --threads 100000", {"--threads", "100000", "between 1 and"});
  expect_usage_error("predict " + model + " " + q(any) + " --top-k 0", {"--top-k", "between 1 and"});
  expect_usage_error("predict " + model + " " + q(any) + " --batch-size -3", {"--batch-size"});
}

TEST(OptionsCli, ChoicesAreCheckedAtParseTimeWithSuggestions) {
  const std::string data = q(sample());
  // adamx was accepted and written into the model; finetune said "needs a pretrained backbone".
  expect_usage_error("train " + data + " --optimizer adamx --strategy feature-extract", {"--optimizer", "adamx", "did you mean adam"});
  expect_usage_error("train " + data + " --strategy finetune", {"--strategy", "did you mean fine-tune?"});
  expect_usage_error("train " + data + " --precision bf61", {"--precision", "auto, fp32 or bf16"});
  expect_usage_error("train " + data + " --device gpu", {"--device", "not a device"});
  expect_usage_error("train " + data + " --resize sqaush", {"--resize", "did you mean squash?"});
  expect_usage_error("train " + data + " --augment ligth", {"--augment", "did you mean light?"});
  expect_usage_error("train " + data + " --augment rotaton_range=10", {"--augment", "did you mean rotation_range?"});
  expect_usage_error("train " + data + " --unfreeze none", {"--unfreeze", "auto, all"});
}

TEST(OptionsCli, MistypedOptionsAndCommandsGetDidYouMean) {
  const std::string data = q(sample());
  expect_usage_error("train " + data + " --epoch 3", {"unknown option --epoch", "did you mean --epochs?"});
  expect_usage_error("train " + data + " --learning-rate 0.1", {"unknown option --learning-rate"});
  expect_usage_error("trian " + data, {"unknown command 'trian'", "did you mean train?"});
  expect_usage_error("evaluate " + q(source_dir() / "README.md") + " " + data + " --jsn", {"did you mean --json?"});
  expect_usage_error("", {"a command is required", "train"});
  auto r = run_command(bin() + " train " + data + " --epoch 3");
  EXPECT_NE(r.output.find("Run 'imagefit train --help'"), std::string::npos) << r.output;
}

TEST(OptionsCli, MissingFilesAreUsageErrorsInImagefitsStyle) {
  // Was CLI11's "model: File does not exist: ..." with exit 105.
  expect_usage_error("predict nosuch.imagefit x.jpg", {"nosuch.imagefit: no such file"});
  expect_usage_error("evaluate nosuch.imagefit " + q(sample()), {"nosuch.imagefit: no such file"});
  expect_usage_error("train " + q(sample() / "nope"), {"nope: no such folder"});
  expect_usage_error("info " + q(sample()), {"is a folder, expected a file"});
}

TEST(OptionsCli, HelpAndVersionExitZeroAndHelpListsPresetsAndRanges) {
  auto r = run_command(bin() + " train --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* s : {"--epochs", "--force", "keras-tutorial", "light", "[16-1024]", "--precision"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  EXPECT_EQ(run_command(bin() + " --version").exit_code, 0);
}

// Outputs: never over the input, never into the dataset, never over an existing model without --force.
class OutputsCli : public ::testing::Test {
 protected:
  TempDir tmp;
  fs::path data() {
    fs::path d = tmp.path() / "data";
    if (!fs::exists(d))
      for (int c = 0; c < 2; ++c)
        for (int i = 0; i < 6; ++i) write_png(d / ("c" + std::to_string(c)) / (std::to_string(i) + ".png"), 40 * c + 10 * i);
    return d;
  }
};

TEST_F(OutputsCli, TrainNeverWritesIntoTheDatasetNorOverAModel) {
  const fs::path image = data() / "c0" / "0.png";
  const std::string before = file_hash(image);
  auto r = run_command(bin() + " train " + q(data()) + " -o " + q(image) + " --arch simple-cnn --epochs 1 -q");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("inside the dataset folder"), std::string::npos) << r.output;
  EXPECT_EQ(file_hash(image), before);
  size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(data())) files += e.is_regular_file();
  EXPECT_EQ(files, 12u) << "nothing may be written into the dataset (no .history.csv, no .curves.png)";

  // An existing model is kept unless --force.
  const fs::path model = tmp.path() / "m.imagefit";
  std::ofstream(model) << "precious";
  r = run_command(bin() + " train " + q(data()) + " -o " + q(model) + " --arch simple-cnn --image-size 32 --epochs 1 -q");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("already exists; use --force"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(model), "precious");
  r = run_command(bin() + " train " + q(data()) + " -o " + q(model) +
                  " --arch simple-cnn --image-size 32 --epochs 1 -q --force --val-split 0.34");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(read_file(model), "precious");

  // A model file at the dataset's top level is harmless (never read as data) and allowed.
  r = run_command(bin() + " train " + q(data()) + " -o " + q(data() / "top.imagefit") +
                  " --arch simple-cnn --image-size 32 --epochs 1 -q --val-split 0.34");
  EXPECT_EQ(r.exit_code, 0) << r.output;

  // A folder that does not exist is created, and said so.
  r = run_command(bin() + " train " + q(data()) + " -o " + q(tmp.path() / "new/dir/m.imagefit") +
                  " --arch simple-cnn --image-size 32 --epochs 1 --val-split 0.34");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("created the folder"), std::string::npos) << r.output;

  // Export never replaces the model it reads.
  const std::string model_bytes = read_file(model);
  r = run_command(bin() + " export " + q(model) + " -o " + q(model));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is the input"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(model), model_bytes);

  // Nor does an evaluation report land in the data (a report/ folder would become a class).
  r = run_command(bin() + " evaluate " + q(model) + " " + q(data()) + " --report " + q(data() / "report"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_FALSE(fs::exists(data() / "report"));
}

TEST_F(OutputsCli, StaleTempFilesOfAKilledSaveAreRemoved) {
  // A SIGKILL during a save leaves ".m.imagefit.tmp.PID.N.R"; a later run of the same output removes it
  // when PID is gone (a running process's temp file is left alone).
  const fs::path model = tmp.path() / "m.imagefit";
  const fs::path dead = tmp.path() / ".m.imagefit.tmp.999999999.0.1";
  const fs::path alive = tmp.path() / (".m.imagefit.tmp." + std::to_string(::getpid()) + ".0.1");
  std::ofstream(dead) << "x";
  std::ofstream(alive) << "x";
  auto r = run_command(bin() + " train " + q(data()) + " -o " + q(model) +
                       " --arch simple-cnn --image-size 32 --epochs 1 -q --val-split 0.34");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive));
}

TEST_F(OutputsCli, AnUnwritableOutputFolderFailsBeforeTraining) {
  // A folder that cannot be made (its parent is a file) fails at once, for every user.
  const fs::path file = tmp.path() / "plain.txt";
  std::ofstream(file) << "x";
  auto bad = run_command(bin() + " train " + q(data()) + " -o " + q(file / "sub" / "m.imagefit") + " --arch simple-cnn -q");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("cannot create the folder"), std::string::npos) << bad.output;
  if (::geteuid() == 0) GTEST_SKIP() << "skipped: running as root, for whom no folder is read-only";
  const fs::path ro = tmp.path() / "ro";
  fs::create_directories(ro);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  auto r = run_command(bin() + " train " + q(data()) + " -o " + q(ro / "m.imagefit") + " --arch simple-cnn --epochs 1 -q");
  fs::permissions(ro, fs::perms::owner_all);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot write in"), std::string::npos) << r.output;
}

namespace {
nlohmann::json last_json(const std::string& out) {
  auto pos = out.rfind("\n{");
  return nlohmann::json::parse(out.substr(pos == std::string::npos ? out.find('{') : pos + 1));
}
}  // namespace

TEST_F(OutputsCli, ConfigFilesInEveryFormatAndTheModelRecordsItsConfig) {
  const fs::path toml = tmp.path() / "run.toml", json = tmp.path() / "run.json", yaml = tmp.path() / "run.yaml";
  std::ofstream(toml) << "# a run\narch = \"simple-cnn\"\nimage-size = 32\nepochs = 3\nval_split = 0.34\nseed = 7\n"
                         "threads = 1\nquiet = true\n";
  std::ofstream(json) << "{\"arch\": \"simple-cnn\", \"image-size\": 32, \"epochs\": 2, \"val-split\": 0.34, \"seed\": 7, "
                         "\"threads\": 1, \"quiet\": true}";
  std::ofstream(yaml) << "arch: simple-cnn\nimage-size: 32   # small\nepochs: 2\nval-split: 0.34\nseed: 7\nthreads: 1\n"
                         "quiet: true\n";
  // Typed options win over the file's (epochs 3 in the TOML, 2 typed).
  const fs::path a = tmp.path() / "a.imagefit";
  auto r = run_command(bin() + " train " + q(data()) + " --config " + q(toml) + " --epochs 2 --json -o " + q(a));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const double val_loss = last_json(r.output)["val_loss"].get<double>();
  EXPECT_EQ(last_json(r.output)["epochs_run"].get<int>(), 2);
  auto info = run_command(bin() + " info --config " + q(a));
  ASSERT_EQ(info.exit_code, 0) << info.output;
  for (const char* s : {"arch = \"simple-cnn\"", "epochs = 2", "image-size = 32", "seed = 7", "threads = 1"})
    EXPECT_NE(info.output.find(s), std::string::npos) << s << "\n" << info.output;

  // JSON and YAML say the same and give the same model; so does the recorded config, replayed.
  const fs::path recorded = tmp.path() / "recorded.toml";
  std::ofstream(recorded) << info.output;
  int n = 0;
  for (const auto& [cfg, extra] : std::vector<std::pair<fs::path, std::string>>{
           {json, " " + q(data())}, {yaml, " " + q(data())}, {recorded, " --force -q"}}) {
    const fs::path out = tmp.path() / ("m" + std::to_string(n++) + ".imagefit");
    auto rr = run_command(bin() + " train" + extra + " --config " + q(cfg) + " --json -o " + q(out));
    ASSERT_EQ(rr.exit_code, 0) << cfg << "\n" << rr.output;
    EXPECT_NEAR(last_json(rr.output)["val_loss"].get<double>(), val_loss, 1e-6) << cfg;
  }

  // A bad value in a file is the same error as typed.
  const fs::path bad = tmp.path() / "bad.yaml";
  std::ofstream(bad) << "dropout: 3\n";
  expect_usage_error("train " + q(data()) + " --config " + q(bad), {"--dropout", "[0, 1)"});
  expect_usage_error("train " + q(data()) + " --config " + q(tmp.path() / "none.toml"), {"none.toml", "cannot read"});
}

// `imagefit launch --nproc N -- train ...` and `train --distributed` (torchrun's environment) on the
// real binary: two ranks on this machine give what one process gives for the same global batch
// (the linear probe on gathered features equal, a from-scratch epoch to float rounding), rank 0
// writes the model and its --json stays parseable, and a rank that dies stops the run with its exit
// code instead of a hang.
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "core/fs.h"
#include "core/history.h"
#include "test_support.h"

using namespace imagefit;
using imagefit::test::imagefit_binary;
using imagefit::test::run_command;
using imagefit::test::source_dir;

namespace {
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }
fs::path sample() { return source_dir() / "data/sample-sign-digits"; }
nlohmann::json last_json(const std::string& out) {
  const size_t brace = out.rfind("\n{");
  return nlohmann::json::parse(out.substr(brace == std::string::npos ? out.find('{') : brace + 1));
}
History history_of(const fs::path& model) {
  return history_from_csv(read_file(model.parent_path() / (model.stem().string() + ".history.csv")));
}
}  // namespace

TEST(DistributedCli, TwoRanksTrainAsOneProcessWithTheGlobalBatch) {
  TempDir dir;
  const std::string bin = imagefit_binary().string();
  // fp32 and no dropout: the ranks' sum of two 16-image gradients is the 32-image gradient.
  const std::string args = " --arch simple-cnn --image-size 32 --epochs 1 --patience 0 --seed 5 --dropout 0 "
                           "--augment none --precision fp32 --threads 1 --json -q";
  auto one = run_command(bin + " train " + q(sample()) + args + " --batch-size 32 -o " + q(dir.path() / "one.imagefit"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  auto two = run_command(bin + " launch --nproc 2 -- train " + q(sample()) + args + " --batch-size 16 -o " +
                         q(dir.path() / "two.imagefit"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  const auto j = last_json(two.output);  // rank 0's --json, not prefixed
  EXPECT_EQ(j["world_size"], 2);
  const auto a = history_of(dir.path() / "one.imagefit"), b = history_of(dir.path() / "two.imagefit");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NEAR(b[0].train_loss, a[0].train_loss, 1e-4 * a[0].train_loss);
  EXPECT_NEAR(b[0].val_loss, a[0].val_loss, 1e-4 * a[0].val_loss);
  // Only rank 0 wrote: the model, its history and curves, nothing else.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) files += e.path().filename().string().rfind("two", 0) == 0;
  EXPECT_EQ(files, 3u);
  auto info = run_command(bin + " info " + q(dir.path() / "two.imagefit"));
  EXPECT_EQ(info.exit_code, 0) << info.output;
}

TEST(DistributedCli, TheProbeOnGatheredFeaturesIsTheSingleProcessProbe) {
  TempDir dir;
  const std::string bin = imagefit_binary().string();
  const std::string args = " --strategy feature-extract --image-size 96 --augment none --threads 1 --json -q";
  auto one = run_command(bin + " train " + q(sample()) + args + " -o " + q(dir.path() / "one.imagefit"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  auto two = run_command(bin + " launch --nproc 2 -- train " + q(sample()) + args + " -o " + q(dir.path() / "two.imagefit"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  // Each rank computed half of the features; gathered, the fit is the same fit.
  EXPECT_NEAR(last_json(two.output)["val_loss"].get<double>(), last_json(one.output)["val_loss"].get<double>(), 1e-5);
  EXPECT_EQ(last_json(two.output)["val_accuracy"], last_json(one.output)["val_accuracy"]);
}

TEST(DistributedCli, TheProbeKeepsGatheredActivationsAndFineTuningTrainsAsOneProcess) {
  TempDir dir;
  const std::string bin = imagefit_binary().string();
  // The probe's frozen stem runs in shards and its output is gathered for the cached fine-tune epochs;
  // fp32: the ranks' two 16-image gradients make the 32-image gradient.
  const std::string args = " --strategy fine-tune --image-size 96 --epochs 2 --patience 0 --seed 5 --augment light "
                           "--precision fp32 --threads 1 --json -q";
  auto one = run_command(bin + " train " + q(sample()) + args + " --batch-size 32 -o " + q(dir.path() / "one.imagefit"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  auto two = run_command(bin + " launch --nproc 2 -- train " + q(sample()) + args + " --batch-size 16 -o " +
                         q(dir.path() / "two.imagefit"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  const auto a = history_of(dir.path() / "one.imagefit"), b = history_of(dir.path() / "two.imagefit");
  ASSERT_EQ(a.size(), 3u);  // probe + 2 fine-tune epochs
  ASSERT_EQ(b.size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    EXPECT_NEAR(b[e].train_loss, a[e].train_loss, 1e-4 * std::max(1e-3, a[e].train_loss)) << "epoch " << e + 1;
    EXPECT_NEAR(b[e].val_loss, a[e].val_loss, 1e-4 * a[e].val_loss) << "epoch " << e + 1;
  }
  auto info = nlohmann::json::parse(run_command(bin + " info " + q(dir.path() / "two.imagefit") + " --json").output);
  EXPECT_EQ(info["training"]["activation_cache_from_probe"], true) << info["training"].dump();
  // bf16 activations travel too (Gloo gathers them as 16-bit values).
  auto bf16 = run_command(bin + " launch --nproc 2 -- train " + q(sample()) +
                          " --strategy fine-tune --image-size 96 --epochs 1 --patience 0 --seed 5 --precision bf16 "
                          "--threads 1 --json -q --batch-size 16 -o " + q(dir.path() / "bf16.imagefit"));
  ASSERT_EQ(bf16.exit_code, 0) << bf16.output;
  info = nlohmann::json::parse(run_command(bin + " info " + q(dir.path() / "bf16.imagefit") + " --json").output);
  EXPECT_EQ(info["training"]["activation_cache_from_probe"], true) << info["training"].dump();
  EXPECT_EQ(info["training"]["precision"], "bf16");
  const auto c = history_of(dir.path() / "bf16.imagefit");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[1].val_loss, a[1].val_loss, 0.1 * a[1].val_loss);  // the fp32 run's first epoch, to bf16's precision
}

TEST(DistributedCli, ARankThatDiesStopsTheRunWithItsExitCode) {
  TempDir dir;
  const fs::path log = dir.path() / "log";
  const std::string cmd = imagefit_binary().string() + " launch --nproc 2 -- train " + q(sample()) +
                          " --arch simple-cnn --image-size 32 --epochs 500 --threads 1 --dist-timeout 10 -o " +
                          q(dir.path() / "m.imagefit") + " > " + q(log) + " 2>&1";
  const pid_t launcher = fork();
  if (launcher == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait for training to run, then kill rank 1 (a child of the launcher whose RANK is 1).
  for (int i = 0; i < 600 && !fs::exists(dir.path() / "m.imagefit"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(dir.path() / "m.imagefit")) << read_file(log);
  auto kids = run_command("pgrep -P " + std::to_string(launcher));
  bool killed = false;
  std::istringstream pids(kids.output);
  for (std::string pid; pids >> pid;) {
    if (read_file("/proc/" + pid + "/environ").find(std::string("RANK=1") + '\0') != std::string::npos) {
      kill(std::stoi(pid), SIGKILL);
      killed = true;
    }
  }
  ASSERT_TRUE(killed) << kids.output;
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  waitpid(launcher, &status, 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 20) << "the run must stop, not wait on the dead rank";
  EXPECT_EQ(WEXITSTATUS(status), 137) << read_file(log);
  EXPECT_NE(read_file(log).find("launch: rank 1 exited with 137"), std::string::npos) << read_file(log);
}

TEST(DistributedCli, WithoutTorchrunsEnvironmentItSaysWhatIsMissing) {
  auto r = run_command("env -u MASTER_ADDR " + imagefit_binary().string() + " train " + q(sample()) +
                       " --distributed --epochs 1 -q -o /tmp/never.imagefit");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("$MASTER_ADDR is not set (start the ranks with torchrun or 'imagefit launch"), std::string::npos)
      << r.output;
  r = run_command(imagefit_binary().string() + " launch --nproc 2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("give the command to run after --"), std::string::npos) << r.output;
}

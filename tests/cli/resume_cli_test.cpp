// `imagefit train ... --resume`: a run killed at a random moment (SIGKILL, possibly in the middle of
// writing its checkpoint or the model) and resumed, once or several times, ends with exactly what
// the uninterrupted run gives (same seed, one thread); a checkpoint is refused for other options or
// other data, with what differs; Ctrl-C says how to resume.
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
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

// Starts `command` in the background (output to `log`); returns its pid.
pid_t start(const std::string& command, const fs::path& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const std::string line = "exec " + command + " >" + q(log) + " 2>&1";
    execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits until `file` exists or the process ends; true if it exists.
bool wait_for(const fs::path& file, pid_t pid, double seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds) {
    if (fs::exists(file)) return true;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return fs::exists(file);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

nlohmann::json last_json(const std::string& output) {
  const size_t brace = output.rfind("\n{");
  return nlohmann::json::parse(output.substr(brace == std::string::npos ? 0 : brace + 1));
}

// history.csv without its timing columns (seconds, img/s differ run to run).
std::string history_without_times(const fs::path& csv) {
  std::istringstream in(read_file(csv));
  std::string line, out;
  std::getline(in, line);
  std::vector<std::string> header;
  {
    std::stringstream h(line);
    for (std::string c; std::getline(h, c, ',');) header.push_back(c);
  }
  while (std::getline(in, line)) {
    std::stringstream cells(line);
    size_t i = 0;
    for (std::string c; std::getline(cells, c, ','); ++i)
      if (i < header.size() && header[i].find("second") == std::string::npos) out += c + ",";
    out += "\n";
  }
  return out;
}

size_t temp_files_beside(const fs::path& model) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(model.parent_path()))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) ++n;
  return n;
}

// The reference run, then the same run killed at random moments and resumed until it finishes.
void expect_resume_equals_uninterrupted(const std::string& args, int kills) {
  const fs::path dir = fs::temp_directory_path() / ("imagefit_resume_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string base = imagefit_binary().string() + " train " + q(sample()) + " " + args + " --threads 1 --json";
  auto ref = run_command(base + " -q -o " + q(dir / "ref.imagefit"));
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const auto want = last_json(ref.output);

  const fs::path model = dir / "run.imagefit";
  const fs::path checkpoint = dir / "run.imagefit.resume";
  std::mt19937 rng(std::random_device{}());
  bool first = true;
  bool finished = false;  // a kill came after the run had written its model and removed its checkpoint
  std::string ended_by_itself;  // the output of a (resumed) run that finished before its kill
  int killed = 0;
  for (int k = 0; k < kills; ++k) {
    const std::string cmd = base + " -o " + q(model) + (first ? "" : " --resume");
    const pid_t pid = start(cmd, dir / ("log" + std::to_string(k)));
    // Once the first checkpoint is there, any moment is fair: inside an epoch, during a save.
    if (!wait_for(checkpoint, pid, 300)) {
      kill(-pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      FAIL() << "no checkpoint appeared: " << read_file(dir / ("log" + std::to_string(k)));
    }
    const int delay_ms = std::uniform_int_distribution<int>(0, 2500)(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {  // it finished first: nothing to kill; its output is the result
      ended_by_itself = read_file(dir / ("log" + std::to_string(k)));
      break;
    }
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (!fs::exists(checkpoint) && fs::exists(model)) {
      // Killed between the end of the work (the final model written, then the checkpoint removed)
      // and the exit: the run was over and `--resume` rightly says there is nothing to continue.
      auto nothing = run_command(base + " -o " + q(model) + " --resume");
      EXPECT_EQ(nothing.exit_code, 2) << nothing.output;
      EXPECT_NE(nothing.output.find("the run finished"), std::string::npos) << nothing.output;
      std::printf("run %d had finished when killed %d ms after its first checkpoint\n", k, delay_ms);
      finished = true;
      break;
    }
    std::printf("killed run %d %d ms after its first checkpoint\n", k, delay_ms);
    ++killed;
    first = false;
  }
  // A run that had finished is repeated whole (its result is the uninterrupted run's too).
  auto done = !ended_by_itself.empty()
                  ? test::CommandResult{0, ended_by_itself}
                  : run_command(base + " -o " + q(model) + (killed && !finished ? " --resume" : " --force"));
  ASSERT_EQ(done.exit_code, 0) << done.output;
  if (killed && !finished) EXPECT_NE(done.output.find("resuming from"), std::string::npos) << done.output;
  const auto got = last_json(done.output);
  // Exactly the uninterrupted run's result: the same epochs, losses and kept epoch.
  EXPECT_EQ(got["best_epoch"], want["best_epoch"]);
  EXPECT_EQ(got["epochs_run"], want["epochs_run"]);
  EXPECT_EQ(got["val_loss"].get<double>(), want["val_loss"].get<double>());
  EXPECT_EQ(got["val_accuracy"].get<double>(), want["val_accuracy"].get<double>());
  EXPECT_EQ(got["strategy"], want["strategy"]);
  EXPECT_EQ(history_without_times(dir / "run.history.csv"), history_without_times(dir / "ref.history.csv"));
  EXPECT_FALSE(fs::exists(checkpoint)) << "the checkpoint is deleted when the run ends";
  EXPECT_EQ(temp_files_beside(model), 0u) << "temp files of killed saves are cleaned up";
  // The models predict the same.
  auto a = run_command(imagefit_binary().string() + " predict " + q(dir / "ref.imagefit") + " " + q(sample() / "3") + " --csv");
  auto b = run_command(imagefit_binary().string() + " predict " + q(model) + " " + q(sample() / "3") + " --csv");
  EXPECT_EQ(a.output, b.output);
  fs::remove_all(dir);
}

}  // namespace

TEST(ResumeCli, FromScratchKilledAtRandomMomentsEndsAsTheUninterruptedRun) {
  expect_resume_equals_uninterrupted("--arch simple-cnn --image-size 32 --epochs 12 --patience 0 --seed 5", 3);
}

TEST(ResumeCli, FineTuneWithActivationCacheKilledAtRandomMomentsEndsAsTheUninterruptedRun) {
  // The embedded backbone: probe, then fine-tuning the last stages on cached activations (Adam state,
  // cosine schedule position and head dropout all travel in the checkpoint).
  expect_resume_equals_uninterrupted("--strategy fine-tune --image-size 128 --epochs 10 --patience 0 --seed 2", 3);
}

// torchrun's elastic habit: a data-parallel run killed after a checkpoint resumes with another number
// of ranks at the same global batch (2 ranks x 16 → 1 process x 32, and back), and ends as the
// uninterrupted run does (to float rounding: the ranks sum their halves of each batch's gradient).
// Fine-tuning from the embedded backbone for two epochs, whose losses stay within 1e-4 of one
// process's for two ranks; longer runs drift apart by rounding alone (Adam turns the sign of a
// near-zero gradient into a whole step; a from-scratch net near chance differs by 0.3% by its third
// epoch), so the test stays short.
TEST(ResumeCli, ARunResumesWithAnotherNumberOfRanksAtTheSameGlobalBatch) {
  TempDir tmp;
  const fs::path dir = tmp.path();
  const std::string bin = imagefit_binary().string();
  const std::string args = " " + q(sample()) + " --strategy fine-tune --image-size 96 --epochs 2 --patience 0 --seed 5 "
                           "--augment light --precision fp32 --threads 1 -q";
  auto ref = run_command(bin + " train" + args + " --batch-size 32 -o " + q(dir / "ref.imagefit"));
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const History expected = history_from_csv(read_file(dir / "ref.history.csv"));
  ASSERT_EQ(expected.size(), 3u);  // the probe and 2 fine-tune epochs
  struct Leg {
    std::string first, then;  // the command that is killed, the one that resumes
  };
  const std::vector<Leg> legs = {
      {bin + " launch --nproc 2 -- train" + args + " --batch-size 16", bin + " train" + args + " --batch-size 32"},
      {bin + " train" + args + " --batch-size 32", bin + " launch --nproc 2 -- train" + args + " --batch-size 16"}};
  for (size_t i = 0; i < legs.size(); ++i) {
    SCOPED_TRACE(legs[i].first);
    const fs::path model = dir / ("m" + std::to_string(i) + ".imagefit");
    const pid_t pid = start(legs[i].first + " -o " + q(model), dir / "log");
    ASSERT_TRUE(wait_for(fs::path(model.string() + ".resume"), pid, 120)) << read_file(dir / "log");
    kill(-pid, SIGKILL);  // at the probe's checkpoint, or within the fine-tune's first steps
    waitpid(pid, nullptr, 0);
    auto r = run_command(legs[i].then + " -o " + q(model) + " --resume");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const History got = history_from_csv(read_file(dir / ("m" + std::to_string(i) + ".history.csv")));
    ASSERT_EQ(got.size(), expected.size());
    for (size_t e = 0; e < got.size(); ++e) {
      EXPECT_NEAR(got[e].train_loss, expected[e].train_loss, 1e-3 * expected[e].train_loss) << "epoch " << e + 1;
      EXPECT_NEAR(got[e].val_loss, expected[e].val_loss, 1e-3 * expected[e].val_loss) << "epoch " << e + 1;
      EXPECT_EQ(got[e].phase, expected[e].phase);
    }
  }
  // A different global batch is a different run.
  const pid_t pid = start(bin + " train" + args + " --batch-size 32 -o " + q(dir / "g.imagefit"), dir / "log");
  ASSERT_TRUE(wait_for(dir / "g.imagefit.resume", pid, 120)) << read_file(dir / "log");
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  auto r = run_command(bin + " launch --nproc 2 -- train" + args + " --batch-size 32 -o " + q(dir / "g.imagefit") + " --resume");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("the global batch (--batch-size x ranks): the checkpoint has 32, this run 64"), std::string::npos)
      << r.output;
}

TEST(ResumeCli, ACheckpointOfOtherOptionsOrDataIsRefusedSayingWhatDiffers) {
  const fs::path dir = fs::temp_directory_path() / ("imagefit_resume_diff_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // A small copy of the data, so that it can change.
  for (const char* c : {"0", "1"}) {
    fs::create_directories(dir / "data" / c);
    int n = 0;
    for (const auto& e : fs::directory_iterator(sample() / c))
      if (n++ < 12) fs::copy_file(e.path(), dir / "data" / c / e.path().filename());
  }
  const std::string base = imagefit_binary().string() + " train " + q(dir / "data") +
                           " --arch simple-cnn --image-size 32 --epochs 2000 --patience 0 --threads 1 -o " + q(dir / "m.imagefit");
  const pid_t pid = start(base, dir / "log");
  ASSERT_TRUE(wait_for(dir / "m.imagefit.resume", pid, 120)) << read_file(dir / "log");
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);

  auto r = run_command(base + " --resume --lr 0.01");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("checkpoint of another run"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--lr: the checkpoint has (not given), this run 0.01"), std::string::npos) << r.output;

  cv::imwrite((dir / "data/1/extra.png").string(), cv::Mat(40, 40, CV_8UC3, cv::Scalar(1, 2, 3)));
  r = run_command(base + " --resume");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(" images: the checkpoint has"), std::string::npos) << r.output;
  fs::remove(dir / "data/1/extra.png");

  // Without --resume, the unfinished run is not silently overwritten.
  r = run_command(base);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("add --resume to continue it"), std::string::npos) << r.output;

  // Ctrl-C says what was saved and how to go on; the checkpoint stays.
  const pid_t pid2 = start(base + " --resume", dir / "log2");
  std::this_thread::sleep_for(std::chrono::seconds(4));
  kill(pid2, SIGINT);  // the shell execs imagefit: the pid is imagefit's
  int status = 0;
  waitpid(pid2, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 130) << read_file(dir / "log2");
  EXPECT_NE(read_file(dir / "log2").find("run the same command with --resume"), std::string::npos) << read_file(dir / "log2");
  EXPECT_TRUE(fs::exists(dir / "m.imagefit.resume"));

  fs::remove(dir / "m.imagefit.resume");
  r = run_command(base + " --resume");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("there is no checkpoint"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

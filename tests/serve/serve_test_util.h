#pragma once
// Helpers for the serve tests: a small real model file, test images, the imagefit binary as a
// child process (to send it signals), and the folder where artefacts (screenshots) are kept.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "weights/saved_model.h"

extern char** environ;

namespace imagefit::test {

namespace sfs = std::filesystem;

inline std::vector<std::string> test_classes() { return {"cat", "dog", "bird", "fish", "horse", "frog", "ship"}; }

// A simple-cnn at 32×32 with random weights (seeded), saved as a real model file. Raw random weights
// give every image the same label (ReLU features all point the same way), so the last layer is
// re-centred on the mean feature of varied inputs and scaled: different images get different labels,
// with winners clear enough to rank alike alone or in a batch.
inline void make_test_model(const sfs::path& path, uint64_t seed = 7) {
  torch::manual_seed(int64_t(seed));
  NetworkSpec spec;
  spec.arch = "simple-cnn";
  spec.image_size = 32;
  spec.head.pooling = "flatten";
  spec.classes = test_classes();
  Classifier net = build_network(spec);
  {
    torch::NoGradGuard no_grad;
    net->eval();
    // Noise and flat colours, as the tests' pictures are, in the network's [0, 1] input range.
    auto inputs = torch::cat({torch::rand({16, 3, 32, 32}), torch::rand({16, 3, 1, 1}).expand({16, 3, 32, 32})});
    auto features = net->head()->pool(net->backbone()->forward(inputs));  // N × in_features
    auto params = net->head()->named_parameters();
    auto& weight = params["fc.weight"];
    auto& bias = params["fc.bias"];
    auto centered = torch::matmul(features - features.mean(0), weight.t());
    weight.mul_(4.0 / (centered.std().item<double>() + 1e-12));
    bias.copy_(-torch::matmul(weight, features.mean(0)));
  }
  nlohmann::json meta = {{"imagefit_version", "0.1.0"},
                         {"training",
                          {{"val_accuracy", 0.875},
                           {"val_loss", 0.41},
                           {"test_accuracy", 0.8125},
                           {"test_loss", 0.47},
                           {"best_epoch", 7},
                           {"epochs_run", 10},
                           {"strategy", "scratch"}}}};
  save_model(path.string(), spec, meta, net);
}

// A synthetic picture that differs with `seed` (gradients, a disc and stripes), so images get
// different predictions.
inline cv::Mat test_picture_bgr(int seed, int w = 96, int h = 80) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b((x * 255 / w + seed * 53) % 256, (y * 255 / h + seed * 97) % 256,
                                        ((x + y) * 3 + seed * 31) % 256);
  cv::circle(m, {w / 2 + (seed * 7) % 20 - 10, h / 2}, std::min(w, h) / (3 + seed % 3),
             cv::Scalar((seed * 40) % 256, 255 - (seed * 60) % 256, (seed * 90) % 256), cv::FILLED);
  for (int x = seed % 9; x < w; x += 9 + seed % 5) cv::line(m, {x, 0}, {x, h - 1}, cv::Scalar(0, 0, 0), 1 + seed % 2);
  return m;
}

inline std::string encode(const cv::Mat& bgr, const std::string& ext) {
  std::vector<unsigned char> buf;
  EXPECT_TRUE(cv::imencode(ext, bgr, buf)) << ext;
  return std::string(buf.begin(), buf.end());
}

inline void write_bytes(const sfs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// <build>/test-artifacts (the test programs live in <build>/tests).
inline sfs::path serve_artifacts_dir() {
  std::error_code ec;
  sfs::path exe = sfs::read_symlink("/proc/self/exe", ec);
  sfs::path dir = exe.empty() ? sfs::temp_directory_path() : exe.parent_path();
  if (dir.filename() == "tests") dir = dir.parent_path();
  dir /= "test-artifacts";
  sfs::create_directories(dir, ec);
  return dir;
}

inline std::string read_text(const sfs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `imagefit serve ...` (or any program) as a child process, stdout and stderr into a log file.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const sfs::path& log) : log_(log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ChildProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string log() const { return read_text(log_); }

  // Waits for `imagefit serve` to print its URL; returns the port, or -1 (exited or timed out).
  int wait_for_port(double timeout_s) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    const std::regex url(R"(open http://127\.0\.0\.1:(\d+)/)");
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, url)) return std::stoi(m[1]);
      if (poll_exit()) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }

  // Sends `sig` (0: none) and waits up to timeout_s: the exit code, 128 + signal if killed by one,
  // or -1 if it is still running.
  int stop(int sig, double timeout_s) {
    if (exited_) return code_;
    if (sig) ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      if (poll_exit()) return code_;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  bool poll_exit() {
    if (exited_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exited_ = true;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  sfs::path log_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int code_ = -1;
};

}  // namespace imagefit::test

// Data-parallel training's pieces, checked against the single-process computation they replace:
// the shards of an epoch make up the single-process batches (with the same augmentation), gradients
// averaged over two real processes on c10d/Gloo equal the gradient of the whole batch, features
// gathered from the ranks come back in item order, and a rank that dies or hangs is an error in the
// others within the timeout, not a hang.
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "train/batch_loader.h"
#include "train/distributed.h"

using namespace imagefit;

namespace {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Runs `body(rank)` in `world` forked processes with torchrun's environment; returns their exit codes.
std::vector<int> run_ranks(int world, const std::function<int(Distributed&)>& body, double timeout = 20,
                           const std::function<void(std::vector<pid_t>&)>& meddle = nullptr) {
  const int port = free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("RANK", std::to_string(r).c_str(), 1);
      int code = 0;
      try {
        Distributed d(DistributedEnv::from_environment(), timeout);
        code = body(d);
      } catch (const Error& e) {
        std::fprintf(stderr, "rank %d: %s\n", r, e.what());
        code = std::string(e.what()).find("distributed rank " + std::to_string(r) + " of") != std::string::npos ? 42 : 3;
      }
      std::fflush(nullptr);
      _exit(code);
    }
    pids.push_back(pid);
  }
  if (meddle) meddle(pids);
  std::vector<int> codes;
  for (pid_t p : pids) {
    int status = 0;
    if (p < 0) {  // already waited for by `meddle`
      codes.push_back(-1);
      continue;
    }
    waitpid(p, &status, 0);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

// A small network and a batch, the same in every process (seeded).
struct Problem {
  torch::nn::Sequential net{torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)), torch::nn::ReLU(),
                            torch::nn::Flatten(), torch::nn::Linear(4 * 6 * 6, 3)};
  torch::Tensor x, y;
  Problem() {
    torch::manual_seed(11);
    for (auto& p : net->parameters()) p.data().normal_(0, 0.3);
    x = torch::randn({8, 3, 8, 8});
    y = torch::randint(0, 3, {8}, torch::kInt64);
  }
  std::vector<torch::Tensor> grads_of(const torch::Tensor& xs, const torch::Tensor& ys) {
    for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
    torch::nn::functional::cross_entropy(net->forward(xs), ys).backward();
    std::vector<torch::Tensor> g;
    for (auto& p : net->parameters()) g.push_back(p.grad().clone());
    return g;
  }
};

}  // namespace

TEST(Distributed, ShardsOfAnEpochMakeUpTheSingleProcessBatches) {
  TempDir dir;
  ImageSet set;
  set.classes = {"a", "b"};
  for (int i = 0; i < 10; ++i) {  // 10 images, 2 ranks × batch 2: the single run's batch is 4
    const std::string p = (dir.path() / (std::to_string(i) + ".png")).string();
    cv::imwrite(p, cv::Mat(8, 8, CV_8UC3, cv::Scalar(20 * i, 3, 7)));
    set.images.push_back({p, i % 2});
  }
  ImageCache cache(set, 8, ResizeMode::Squash, 1, true, size_t(1) << 20, false);
  SampleTransform noisy = [](const cv::Mat& m, Rng& rng) {
    cv::Mat out;
    m.convertTo(out, -1, 1.0, double(rng() % 50));
    return out;
  };
  LoaderOptions single;
  single.batch_size = 4;
  single.seed = 3;
  BatchLoader whole(cache, Normalization::Unit, noisy, single);
  std::vector<std::unique_ptr<BatchLoader>> ranks;
  for (int r = 0; r < 2; ++r) {
    LoaderOptions lo = single;
    lo.batch_size = 2;
    lo.rank = r;
    lo.world = 2;
    ranks.push_back(std::make_unique<BatchLoader>(cache, Normalization::Unit, noisy, lo));
  }
  EXPECT_EQ(ranks[0]->samples_per_epoch(), 5u);
  EXPECT_EQ(ranks[0]->batches_per_epoch(), whole.batches_per_epoch());
  for (int epoch = 0; epoch < 2; ++epoch) {
    whole.start_epoch(epoch);
    for (auto& l : ranks) l->start_epoch(epoch);
    for (size_t step = 0; step < 2; ++step) {  // the two full steps (the last, padded one differs)
      auto w = whole.next();
      auto a = ranks[0]->next(), b = ranks[1]->next();
      ASSERT_TRUE(w && a && b);
      // Rank r's item j of step k is item 2j + r of the single step k: the same image, augmented alike.
      for (int j = 0; j < 2; ++j)
        for (int r = 0; r < 2; ++r) {
          const auto& part = r == 0 ? *a : *b;
          EXPECT_EQ(part.indices[size_t(j)], w->indices[size_t(2 * j + r)]) << epoch << " " << step;
          EXPECT_TRUE(torch::equal(part.images[j], w->images[2 * j + r])) << "augmentation differs";
        }
    }
  }
}

TEST(Distributed, EvaluationShardsHoldEveryImageOnce) {
  TempDir dir;
  ImageSet set;
  set.classes = {"a", "b"};
  for (int i = 0; i < 5; ++i) {
    const std::string p = (dir.path() / (std::to_string(i) + ".png")).string();
    cv::imwrite(p, cv::Mat(8, 8, CV_8UC3, cv::Scalar(40 * i, 3, 7)));
    set.images.push_back({p, i % 2});
  }
  ImageCache cache(set, 8, ResizeMode::Squash, 1, true, size_t(1) << 20, false);
  std::multiset<size_t> seen;
  for (int r = 0; r < 2; ++r) {
    LoaderOptions lo;
    lo.batch_size = 2;
    lo.shuffle = false;
    lo.rank = r;
    lo.world = 2;
    lo.pad_shards = false;  // validation: no image counted twice
    BatchLoader loader(cache, Normalization::Unit, nullptr, lo);
    EXPECT_EQ(loader.samples_per_epoch(), r == 0 ? 3u : 2u);
    loader.start_epoch(0);
    while (auto b = loader.next()) seen.insert(b->indices.begin(), b->indices.end());
  }
  EXPECT_EQ(seen, (std::multiset<size_t>{0, 1, 2, 3, 4}));
}

TEST(Distributed, AveragedGradientsOfTwoProcessesEqualTheWholeBatchGradient) {
  Problem p;
  const auto want = p.grads_of(p.x, p.y);
  const auto codes = run_ranks(2, [&](Distributed& d) {
    Problem q;  // the same network and batch in this process
    const int r = d.rank();
    q.grads_of(q.x.slice(0, r * 4, r * 4 + 4), q.y.slice(0, r * 4, r * 4 + 4));
    d.average_gradients(q.net->parameters());
    int bad = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const double diff = (q.net->parameters()[i].grad() - want[i]).abs().max().item<double>();
      if (diff > 1e-6) {
        std::fprintf(stderr, "rank %d: parameter %zu differs by %g\n", r, i, diff);
        bad = 1;
      }
    }
    // Gathering rows computed for items r, r + 2, ... restores item order; decisions agree.
    auto local = torch::arange(r, 5, 2, torch::kFloat).unsqueeze(1).repeat({1, 3});
    auto all = d.gather_strided_rows(local, 5);
    if (!torch::equal(all.select(1, 0), torch::arange(0, 5, torch::kFloat))) bad = 2;
    if (d.any(r == 1) != true || d.any(false) != false) bad = 3;
    if (d.from_main(r == 0 ? 7.5 : -1) != 7.5) bad = 4;
    return bad;
  });
  EXPECT_EQ(codes, (std::vector<int>{0, 0}));
}

TEST(Distributed, ARankThatDiesOrHangsIsAnErrorInTheOthers) {
  // Rank 1 dies before the collective: rank 0 gets an error naming itself (exit 42), at once.
  auto t0 = std::chrono::steady_clock::now();
  auto codes = run_ranks(2, [](Distributed& d) {
    if (d.rank() == 1) _exit(9);
    auto t = torch::ones({4});
    d.all_reduce_sum({t});
    return 0;
  });
  EXPECT_EQ(codes[0], 42);
  EXPECT_EQ(codes[1], 9);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20);

  // Rank 1 hangs (stopped): rank 0 gives up after the timeout (3 s here), not never.
  t0 = std::chrono::steady_clock::now();
  int code0 = -1;
  double seconds = 0;
  codes = run_ranks(
      2,
      [](Distributed& d) {
        if (d.rank() == 1) {
          ::raise(SIGSTOP);
          return 0;
        }
        auto t = torch::ones({4});
        d.all_reduce_sum({t});
        return 0;
      },
      3, [&](std::vector<pid_t>& pids) {
        // Once rank 0 has failed, end the stopped rank 1.
        int status = 0;
        waitpid(pids[0], &status, 0);
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        code0 = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        pids[0] = -1;
        kill(pids[1], SIGKILL);
      });
  EXPECT_EQ(code0, 42);
  EXPECT_LT(seconds, 30);
  EXPECT_GT(seconds, 2.5);
}

TEST(Distributed, TheEnvironmentIsCheckedWithMessages) {
  unsetenv("MASTER_ADDR");
  try {
    DistributedEnv::from_environment();
    FAIL() << "no error without MASTER_ADDR";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("$MASTER_ADDR is not set"), std::string::npos) << e.what();
  }
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", "29500", 1);
  setenv("WORLD_SIZE", "2", 1);
  setenv("RANK", "2", 1);
  try {
    DistributedEnv::from_environment();
    FAIL() << "no error for RANK 2 of 2";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("$RANK is '2', expected a whole number from 0 to 1"), std::string::npos) << e.what();
  }
  for (const char* v : {"MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK"}) unsetenv(v);
}

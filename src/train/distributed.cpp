#include "train/distributed.h"

// LibTorch's ProcessGroupGloo.hpp is empty unless this is defined (its own build defines it).
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>

#include "core/error.h"

namespace imagefit {

namespace {

std::string env(const char* name, bool required) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    if (required)
      throw Error(std::string("--distributed: $") + name +
                  " is not set (start the ranks with torchrun or 'imagefit launch --nproc N -- train ...')");
    return "";
  }
  return v;
}

int env_int(const char* name, bool required, int fallback, int lo, int hi) {
  const std::string v = env(name, required);
  if (v.empty()) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (*end || n < lo || n > hi)
    throw Error(std::string("--distributed: $") + name + " is '" + v + "', expected a whole number from " +
                std::to_string(lo) + " to " + std::to_string(hi));
  return int(n);
}

}  // namespace

DistributedEnv DistributedEnv::from_environment() {
  DistributedEnv e;
  e.master_addr = env("MASTER_ADDR", true);
  e.master_port = env_int("MASTER_PORT", true, 0, 1, 65535);
  e.world_size = env_int("WORLD_SIZE", true, 1, 1, 1 << 20);
  e.rank = env_int("RANK", true, 0, 0, e.world_size - 1);
  e.local_rank = env_int("LOCAL_RANK", false, e.rank, 0, e.world_size - 1);
  e.local_world_size = env_int("LOCAL_WORLD_SIZE", false, e.world_size, 1, e.world_size);
  return e;
}

struct Distributed::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

Distributed::Distributed(const DistributedEnv& env, double timeout_seconds)
    : env_(env), timeout_(timeout_seconds), group_(std::make_unique<Group>()) {
  const auto timeout = std::chrono::milliseconds(int64_t(timeout_seconds * 1000));
  run("joining the group at " + env.master_addr + ":" + std::to_string(env.master_port), [&] {
    c10d::TCPStoreOptions so;
    so.port = uint16_t(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = size_t(env.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    group_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    // The interface that reaches MASTER_ADDR is the one the peers use too.
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr));
    group_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(group_->store, env.rank, env.world_size, options);
  });
}

Distributed::~Distributed() = default;

void Distributed::run(const std::string& what, const std::function<void()>& collective) {
  try {
    collective();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    msg = msg.substr(0, msg.find('\n'));
    char timeout[32];
    std::snprintf(timeout, sizeof timeout, "%g", timeout_);
    throw Error("distributed rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world_size) + ": " +
                what + " failed (" + msg + "): another rank stopped, or waited longer than --dist-timeout " + timeout +
                " s");
  }
}

void Distributed::all_reduce_sum(const std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return;
  std::vector<torch::Tensor> flat;
  const auto type = tensors.front().scalar_type();
  for (const auto& t : tensors) flat.push_back(t.detach().reshape({-1}).to(torch::kCPU, type));
  std::vector<at::Tensor> bucket{torch::cat(flat)};
  run("all-reduce", [&] { group_->pg->allreduce(bucket)->wait(); });
  int64_t at = 0;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    t.detach().copy_(bucket[0].slice(0, at, at + n).view(t.sizes()));
    at += n;
  }
}

void Distributed::average_gradients(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  constexpr int64_t kBucketElements = int64_t(25) << 18;  // ~25 MB of floats, PyTorch DDP's default bucket
  std::vector<torch::Tensor> bucket;
  int64_t elements = 0;
  auto flush = [&] {
    if (bucket.empty()) return;
    all_reduce_sum(bucket);
    for (auto& g : bucket) g.div_(double(env_.world_size));
    bucket.clear();
    elements = 0;
  };
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    bucket.push_back(p.mutable_grad());
    elements += p.numel();
    if (elements >= kBucketElements) flush();
  }
  flush();
}

void Distributed::broadcast(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  for (const auto& t : tensors) {
    std::vector<at::Tensor> one{t.detach().contiguous().to(torch::kCPU)};
    run("broadcast", [&] { group_->pg->broadcast(one)->wait(); });
    t.detach().copy_(one[0]);
  }
}

torch::Tensor Distributed::gather_strided_rows(const torch::Tensor& local, int64_t total) {
  // Gloo in LibTorch 1.13 gathers no bf16: the same 16 bits as fp16 (a gather only copies them).
  if (local.scalar_type() == torch::kBFloat16)
    return gather_strided_rows(local.view(torch::kHalf), total).view(torch::kBFloat16);
  const int64_t world = env_.world_size;
  const int64_t per_rank = (total + world - 1) / world;  // Gloo gathers equal sizes: pad
  auto row_shape = local.sizes().vec();
  row_shape[0] = per_rank;
  auto padded = torch::zeros(row_shape, local.options().device(torch::kCPU));
  padded.slice(0, 0, local.size(0)).copy_(local);
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int64_t r = 0; r < world; ++r) outputs[0].push_back(torch::empty_like(padded));
  std::vector<at::Tensor> inputs{padded};
  run("all-gather", [&] { group_->pg->allgather(outputs, inputs)->wait(); });
  auto shape = local.sizes().vec();
  shape[0] = total;
  auto out = torch::empty(shape, padded.options());
  for (int64_t r = 0; r < world; ++r) {
    const int64_t rows = (total - r + world - 1) / world;  // items r, r + world, ...
    if (rows > 0) out.slice(0, r, total, world).copy_(outputs[0][size_t(r)].slice(0, 0, rows));
  }
  return out;
}

bool Distributed::any(bool flag) {
  auto t = torch::full({1}, flag ? 1.0f : 0.0f);
  all_reduce_sum({t});
  return t.item<float>() > 0;
}

double Distributed::from_main(double value) {
  auto t = torch::full({1}, value, torch::kFloat64);
  std::vector<at::Tensor> one{t};
  run("broadcast", [&] { group_->pg->broadcast(one)->wait(); });
  return one[0].item<double>();
}

void Distributed::barrier() {
  run("barrier", [&] { group_->pg->barrier()->wait(); });
}

}  // namespace imagefit

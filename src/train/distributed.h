#pragma once
// Data-parallel training across processes on PyTorch's c10d (Gloo; the same contract as torchrun):
// `imagefit train ... --distributed` reads MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK and LOCAL_RANK
// as torchrun sets them, meets the others at a TCPStore on MASTER_ADDR:MASTER_PORT (rank 0 hosts
// it) and joins a ProcessGroupGloo. Each rank trains on its shard of every epoch's order
// (train/batch_loader.h: DistributedSampler's rule, so the union of the ranks' step-k batches is the
// single-process step-k batch of the global size) and averages gradients after backward; rank 0
// writes everything. A collective that fails or waits longer than the timeout (a rank died or hung)
// is an Error naming this rank, never a hang. The c10d headers stay in distributed.cpp.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace imagefit {

// torchrun's environment, read and checked (an Error naming the variable when one is missing or wrong).
struct DistributedEnv {
  std::string master_addr;
  int master_port = 0;
  int world_size = 1, rank = 0, local_rank = 0, local_world_size = 1;
  static DistributedEnv from_environment();
};

class Distributed {
 public:
  // Joins the group (blocks until all ranks are there, at most `timeout_seconds`).
  Distributed(const DistributedEnv& env, double timeout_seconds);
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  bool is_main() const { return env_.rank == 0; }
  double timeout_seconds() const { return timeout_; }

  // Sums each tensor over the ranks, in place (one bucket: the tensors are flattened together).
  void all_reduce_sum(const std::vector<torch::Tensor>& tensors);
  // Gradients of `params` (those that have one) averaged over the ranks, in buckets of ~25 MB.
  void average_gradients(const std::vector<torch::Tensor>& params);
  // Rank 0's values into every rank's tensors, in place.
  void broadcast(const std::vector<torch::Tensor>& tensors);
  // Rows computed on each rank for the items i with i % world == rank (in order), assembled into
  // all `total` rows in item order on every rank.
  torch::Tensor gather_strided_rows(const torch::Tensor& local, int64_t total);
  // True on every rank when it is true on any (stop, interrupt, a decision that must agree).
  bool any(bool flag);
  // The value rank 0 has (its decision, e.g. from its clock), on every rank.
  double from_main(double value);
  void barrier();

 private:
  struct Group;
  DistributedEnv env_;
  double timeout_;
  std::unique_ptr<Group> group_;
  void run(const std::string& what, const std::function<void()>& collective);
};

}  // namespace imagefit

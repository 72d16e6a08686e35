#pragma once
// The last-state checkpoint that makes `imagefit train ... --resume` possible: after every epoch of a
// phase that trains with an optimizer (and at every phase boundary) the trainer writes MODEL.resume
// atomically beside the best model: the network's parameters and buffers, the optimizer's state, the
// RNG state, and a JSON state (the phase and epoch reached, the history and best epoch so far, the
// phases' epochs as planned, what earlier phases decided, and a fingerprint of the options and the
// data). Resuming continues after the last completed epoch and, with the same threads, ends with
// what the uninterrupted run gives: the data order and augmentation are seeded per epoch
// (train/batch_loader.h), so only these states need to travel. The file is deleted when the run ends.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/history.h"
#include "data/dataset.h"
#include "train/options.h"

namespace imagefit {

std::string checkpoint_path(const std::string& model_path);  // MODEL.resume

// What must match for a checkpoint to be resumed: the options that change the result (from
// TrainOptions::config; not output, threads, device), the global batch (--batch-size × ranks, so a
// run may resume with another number of ranks, as torchrun's elastic runs do) and the training,
// validation and test images (paths relative to the dataset, sizes, labels).
nlohmann::json run_fingerprint(const TrainOptions& options, const Dataset& data, int world_size = 1);
// "--lr: the checkpoint has 0.001, this run 0.01", one line a difference (empty: the same run).
std::vector<std::string> fingerprint_differences(const nlohmann::json& saved, const nlohmann::json& now);

// The history in full precision (history.csv rounds), for the checkpoint's state.
nlohmann::json history_to_json(const History& history);
History history_from_json(const nlohmann::json& j);

class Checkpoint {
 public:
  // Writes `state`, the module's parameters and buffers, the optimizer's state (when given) and the
  // default generators' states, atomically.
  static void save(const std::string& path, const nlohmann::json& state, torch::nn::Module& net,
                   torch::optim::Optimizer* optimizer, torch::Device device);
  // Reads one; an Error naming the file when it is not a checkpoint.
  static Checkpoint load(const std::string& path, torch::Device device);

  nlohmann::json state;
  bool has_optimizer() const { return has_optimizer_; }
  void restore_network(torch::nn::Module& net) const;
  void restore_optimizer(torch::optim::Optimizer& optimizer) const;
  void restore_rng() const;

 private:
  std::string path_;
  std::shared_ptr<torch::serialize::InputArchive> archive_;
  bool has_optimizer_ = false;
  torch::Device device_{torch::kCPU};
};

}  // namespace imagefit

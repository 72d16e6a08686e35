#include "train/scoring.h"

#include "core/progress.h"
#include "train/batch_loader.h"

namespace imagefit {

Scores score_images(Classifier& network, const ImageCache& cache, Normalization norm, int batch_size,
                    const torch::Device& device, int threads, const std::string& progress_label,
                    FrozenFeatures* frozen, int shard_rank, int shard_world) {
  Scores s;
  if (cache.size() == 0) return s;
  torch::NoGradGuard no_grad;
  const bool was_training = network->is_training();
  network->eval();
  LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.shuffle = false;
  lo.threads = threads;
  lo.rank = shard_rank;
  lo.world = shard_world;
  lo.pad_shards = false;
  BatchLoader loader(cache, norm, nullptr, lo);
  loader.start_epoch(0);
  std::unique_ptr<ProgressBar> bar;
  if (!progress_label.empty()) bar = std::make_unique<ProgressBar>(progress_label, long(cache.size()));
  double loss_sum = 0;
  size_t correct = 0, seen = 0;
  while (auto batch = loader.next()) {
    auto images = batch->images.to(device);
    auto logits = (frozen ? frozen->logits(images) : network->forward(images)).to(torch::kCPU).to(torch::kFloat32);
    auto labels = batch->labels;
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    auto probs = torch::softmax(logits, 1).contiguous();
    auto pred = probs.argmax(1);
    const int64_t n = probs.size(0), c = probs.size(1);
    const float* p = probs.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      s.probabilities.emplace_back(p + i * c, p + (i + 1) * c);
      s.labels.push_back(int(labels[i].item<int64_t>()));
      s.predicted.push_back(int(pred[i].item<int64_t>()));
      correct += s.labels.back() == s.predicted.back();
    }
    seen += size_t(n);
    if (bar) bar->update(long(seen));
  }
  // Validation is summarized by the epoch's line; other passes (test) keep theirs.
  if (bar) progress_label == "validation" ? bar->discard() : bar->finish();
  s.loss = seen ? loss_sum / double(seen) : 0;  // an empty shard: nothing to average
  s.accuracy = seen ? double(correct) / double(seen) : 0;
  if (was_training) network->train();
  return s;
}

}  // namespace imagefit

#include "train/activation_cache.h"

#include "core/error.h"
#include "core/progress.h"
#include "models/frozen_features.h"

namespace imagefit {

size_t ActivationCache::bytes_per_image(Classifier& net, int image_size, size_t first_trainable_stage,
                                        const torch::Device& device) {
  torch::NoGradGuard no_grad;
  net->eval();
  auto x = torch::zeros({1, 3, image_size, image_size}, torch::TensorOptions().device(device));
  return size_t(net->run_stages(x, 0, first_trainable_stage).numel()) * sizeof(float);
}

namespace {
torch::Tensor run_frozen(FrozenFeatures& bottom, const ImageCache& images, Normalization norm,
                         const SampleTransform& transform, int copy, const ActivationCacheOptions& o,
                         torch::ScalarType type, const torch::Device& device, const std::string& label,
                         const std::function<bool()>& interrupted) {
  LoaderOptions lo;
  lo.batch_size = 64;
  lo.shuffle = false;
  lo.threads = o.threads;
  lo.seed = o.copy_seed(copy);
  BatchLoader loader(images, norm, transform, lo);
  loader.start_epoch(copy);
  std::vector<torch::Tensor> parts;
  ProgressBar bar(label, long(images.size()), o.progress ? stderr : nullptr);
  long seen = 0;
  while (auto batch = loader.next()) {
    // Kept on the CPU: the device holds only the batch being trained.
    parts.push_back(bottom(batch->images.to(device)).to(torch::kCPU, type).contiguous());
    seen += batch->images.size(0);
    bar.update(seen);
    if (interrupted && interrupted()) throw Error("interrupted while caching activations");
  }
  bar.finish();
  return torch::cat(parts);
}
}  // namespace

ActivationCacheLayout ActivationCache::layout(size_t per_image, size_t train_images, size_t val_images,
                                              const ActivationCacheOptions& o) {
  auto total = [&](int copies, size_t elem) { return (train_images * size_t(copies) + val_images) * per_image / 4 * elem; };
  ActivationCacheLayout l;
  l.type = o.precision == Precision::BF16 ? torch::kBFloat16 : torch::kFloat;
  l.copies = std::max(1, o.copies);
  if (l.type == torch::kFloat && total(l.copies, 4) > o.max_bytes) l.type = torch::kBFloat16;
  const size_t elem = l.type == torch::kFloat ? 4 : 2;
  while (l.copies > 1 && total(l.copies, elem) > o.max_bytes) --l.copies;
  if (total(l.copies, elem) > o.max_bytes)
    throw Error("the activations below the trainable stages would take " + std::to_string(total(1, elem) >> 20) +
                " MiB (more than " + std::to_string(o.max_bytes >> 20) + " MiB)");
  return l;
}

ActivationCache::ActivationCache(Classifier& net, int image_size, Normalization norm, const ImageCache& train,
                                 const ImageCache& val, const SampleTransform& transform,
                                 const ActivationCacheOptions& o, const torch::Device& device,
                                 const std::function<bool()>& interrupted) {
  const auto l = layout(bytes_per_image(net, image_size, o.first_trainable_stage, device), train.size(), val.size(), o);
  type_ = l.type;
  FrozenFeatures bottom(net, image_size, o.precision, o.first_trainable_stage);
  for (int c = 0; c < l.copies; ++c)
    train_.push_back(run_frozen(bottom, train, norm, transform, o.first_copy + c, o, type_, device,
                                l.copies > 1 ? "frozen stages (copy " + std::to_string(c + 1) + ")" : "frozen stages (train)",
                                interrupted));
  val_ = run_frozen(bottom, val, norm, nullptr, 0, o, type_, device, "frozen stages (validation)", interrupted);
}

ActivationCache::ActivationCache(std::vector<torch::Tensor> train_copies, torch::Tensor validation)
    : train_(std::move(train_copies)), val_(std::move(validation)) {
  if (train_.empty()) throw std::invalid_argument("ActivationCache: no training copy");
  type_ = val_.scalar_type();
}

torch::Tensor ActivationCache::train_batch(int epoch, const std::vector<size_t>& indices) const {
  const auto& all = train_[size_t(epoch) % train_.size()];
  std::vector<int64_t> idx(indices.begin(), indices.end());
  return all.index_select(0, torch::tensor(idx, torch::kInt64)).to(torch::kFloat);
}

size_t ActivationCache::bytes() const {
  size_t b = size_t(val_.numel() * val_.element_size());
  for (const auto& t : train_) b += size_t(t.numel() * t.element_size());
  return b;
}

}  // namespace imagefit

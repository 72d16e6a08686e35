#pragma once
// Test-time augmentation (TTA): the views of an input that `evaluate`, `predict`, `serve` and
// `train --tta` average over, in one place. A view transforms a batch of normalized N×3×S×S images
// (flipping and crop-and-resize commute with the per-channel normalization). The model's softmax
// probabilities of the views are averaged (fastai's tta, torchvision's TenCrop usage), each at the
// model's temperature (report/calibration.h).
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/classifier.h"
#include "models/frozen_features.h"
#include "report/calibration.h"
#include "train/image_cache.h"

namespace imagefit {

enum class TtaView {
  Image,       // as is
  Mirror,      // flipped left to right
  Zoom,        // the central 87.5% (each side), resized back to S: a zoom-in crop
  ZoomMirror,  // that crop, mirrored
};
// The views --tta uses, the plain image first.
const std::vector<TtaView>& tta_views();
// {Image} without TTA, tta_views() with it.
std::vector<TtaView> views_for(bool tta);
std::string to_string(TtaView v);
// For --help: "the image, its mirror, the central 87.5% crop zoomed to full size and its mirror".
std::string tta_help();

torch::Tensor apply_view(const torch::Tensor& images, TtaView view);

// `mode` auto | on | off (--tta of evaluate, predict, serve): auto is what the model records.
bool tta_wanted(const std::string& mode, bool model_default);

using LogitsFn = std::function<torch::Tensor(const torch::Tensor&)>;
// Appends the batch's logits in every view (images × views × classes) to `out`.
void append_view_logits(const LogitsFn& logits, const torch::Tensor& images, const std::vector<TtaView>& views,
                        ViewLogits& out);

// Every image of `cache` in every view, in cache order; labels[i] the cache's label of image i.
ViewLogits cache_view_logits(FrozenFeatures& frozen, const ImageCache& cache, Normalization norm,
                             const std::vector<TtaView>& views, int batch_size, const torch::Device& device, int threads,
                             std::vector<int>& labels, const std::string& progress_label = "");

}  // namespace imagefit

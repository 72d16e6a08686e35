#include "train/tta.h"

#include "core/error.h"
#include "core/progress.h"
#include "train/batch_loader.h"

namespace imagefit {

namespace {
constexpr double kZoomCrop = 0.875;  // torchvision's center-crop ratio (224 of 256)

torch::Tensor zoom(const torch::Tensor& x) {
  const int64_t h = x.size(2), w = x.size(3);
  const int64_t ch = std::max<int64_t>(1, int64_t(std::lround(h * kZoomCrop)));
  const int64_t cw = std::max<int64_t>(1, int64_t(std::lround(w * kZoomCrop)));
  auto crop = x.slice(2, (h - ch) / 2, (h - ch) / 2 + ch).slice(3, (w - cw) / 2, (w - cw) / 2 + cw);
  namespace F = torch::nn::functional;
  return F::interpolate(crop, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
}
}  // namespace

const std::vector<TtaView>& tta_views() {
  static const std::vector<TtaView> views = {TtaView::Image, TtaView::Mirror, TtaView::Zoom, TtaView::ZoomMirror};
  return views;
}

std::vector<TtaView> views_for(bool tta) { return tta ? tta_views() : std::vector<TtaView>{TtaView::Image}; }

std::string to_string(TtaView v) {
  switch (v) {
    case TtaView::Image: return "image";
    case TtaView::Mirror: return "mirror";
    case TtaView::Zoom: return "zoom";
    case TtaView::ZoomMirror: return "zoom-mirror";
  }
  return "?";
}

std::string tta_help() {
  return "4 views: the image, its mirror (left-right), the central 87.5% crop zoomed back to full size, and its "
         "mirror; their softmax probabilities are averaged (4x the compute)";
}

torch::Tensor apply_view(const torch::Tensor& images, TtaView view) {
  switch (view) {
    case TtaView::Image: return images;
    case TtaView::Mirror: return images.flip({3});
    case TtaView::Zoom: return zoom(images);
    case TtaView::ZoomMirror: return zoom(images).flip({3});
  }
  return images;
}

bool tta_wanted(const std::string& mode, bool model_default) {
  if (mode == "on") return true;
  if (mode == "off") return false;
  if (mode == "auto" || mode.empty()) return model_default;
  throw UsageError("--tta " + mode + ": expected on, off or auto");
}

void append_view_logits(const LogitsFn& logits, const torch::Tensor& images, const std::vector<TtaView>& views,
                        ViewLogits& out) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> per_view;
  for (TtaView v : views) per_view.push_back(logits(apply_view(images, v)).to(torch::kCPU).to(torch::kFloat32));
  // N × V × C, row-major: each image's views together.
  auto all = torch::stack(per_view, 1).contiguous();
  if (out.classes == 0) out.classes = size_t(all.size(2)), out.views = views.size();
  if (out.classes != size_t(all.size(2)) || out.views != views.size()) throw Error("internal: view logits of another shape");
  const float* p = all.data_ptr<float>();
  out.values.insert(out.values.end(), p, p + all.numel());
}

ViewLogits cache_view_logits(FrozenFeatures& frozen, const ImageCache& cache, Normalization norm,
                             const std::vector<TtaView>& views, int batch_size, const torch::Device& device, int threads,
                             std::vector<int>& labels, const std::string& progress_label) {
  ViewLogits out;
  out.views = views.size();
  labels.clear();
  if (cache.size() == 0) return out;
  LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.shuffle = false;
  lo.threads = threads;
  lo.pad_shards = false;
  BatchLoader loader(cache, norm, nullptr, lo);
  loader.start_epoch(0);
  std::unique_ptr<ProgressBar> bar;
  if (!progress_label.empty()) bar = std::make_unique<ProgressBar>(progress_label, long(cache.size()));
  const LogitsFn fn = [&](const torch::Tensor& x) { return frozen.logits(x); };
  while (auto batch = loader.next()) {
    append_view_logits(fn, batch->images.to(device), views, out);
    const auto l = batch->labels.to(torch::kCPU);
    for (int64_t i = 0; i < l.size(0); ++i) labels.push_back(int(l[i].item<int64_t>()));
    if (bar) bar->update(long(labels.size()));
  }
  if (bar) bar->finish();
  return out;
}

}  // namespace imagefit

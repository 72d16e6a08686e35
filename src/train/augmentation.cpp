#include "train/augmentation.h"

#include <memory>

#include "augment/augment_params.h"
#include "augment/augmenter.h"

namespace imagefit {

Augmentation make_augmentation(const std::string& spec, int image_size) {
  AugmentParams p = parse_augment(spec.empty() ? "none" : spec);
  if (p.is_identity()) return {nullptr, to_json(p)};
  auto aug = std::make_shared<Augmenter>(p, image_size, image_size);
  return {[aug](const cv::Mat& rgb, Rng& rng) { return aug->apply(rgb, rng); }, to_json(p)};
}

}  // namespace imagefit

#pragma once
// Random augmentation of one decoded image to the network input size. Torch-free (OpenCV only).
// Geometry (RandomResizedCrop, Keras rotation/shift/shear/zoom, RandomRotation) and the resize to
// the output size are ONE affine matrix applied by ONE cv::warpAffine, so each output pixel is
// interpolated once; flips and pixel-value changes follow. The output depends only on the input
// and the state of the Rng passed in (seed it per image with mix_seed, see core/random.h).
#include <array>
#include <cstdint>

#include <opencv2/core.hpp>

#include "augment/augment_params.h"
#include "core/random.h"
#include "models/input.h"  // ResizeMode (header only: no LibTorch)

namespace imagefit {

// The resize training and evaluation share: cv::INTER_AREA when shrinking, cv::INTER_LINEAR when
// enlarging (either side). Same size: a copy.
cv::Mat resize_for_network(const cv::Mat& rgb, int width, int height);
// torchvision CenterCrop: the centered width×height region (offsets rounded half to even, as
// Python's round), zero-padded where the image is smaller than the crop.
cv::Mat center_crop(const cv::Mat& rgb, int width, int height);
// torchvision Resize(shorter) + CenterCrop((height, width)): the shorter side becomes `shorter`
// (the longer side int(shorter * long / short)), then the center is cut out.
cv::Mat resize_shorter_center_crop(const cv::Mat& rgb, int shorter, int width, int height);
// A decoded image at the network's size×size, as `mode` says (models/input.h): what the image cache
// holds for training and evaluation, and what prediction feeds the network.
cv::Mat resize_to_input(const cv::Mat& rgb, int size, ResizeMode mode);

// The random choices for one image (what Augmenter::draw picked). Defaults change nothing.
struct AugmentDraw {
  cv::Rect2d crop;                   // source region that fills the output; empty = the whole image
  double rotation = 0;               // degrees (Keras rotation + RandomRotation)
  double shift_x = 0, shift_y = 0;   // output pixels (Keras ty and tx: width and height shift)
  double shear = 0;                  // degrees
  double zoom_x = 1, zoom_y = 1;     // Keras zoom: > 1 samples a larger region (zooms out)
  bool flip_horizontal = false, flip_vertical = false;
  double channel_shift = 0;          // Keras channel shift, pixel values
  double brightness = 1;             // Keras brightness factor
  // ColorJitter: the order in which 0 brightness, 1 contrast, 2 saturation, 3 hue are applied, and
  // their factors (1 and hue 0 are skipped).
  std::array<int, 4> jitter_order{0, 1, 2, 3};
  double jitter_brightness = 1, jitter_contrast = 1, jitter_saturation = 1, jitter_hue = 0;
  double blur_sigma = 0;             // 0 = no blur
  double noise_std = 0;              // pixel values (0..255 units); 0 = no noise
  uint64_t noise_seed = 0;

  bool identity_geometry(cv::Size source) const;  // nothing but the plain resize
};

class Augmenter {
 public:
  Augmenter(const AugmentParams& params, int out_width, int out_height);

  // An out_width×out_height CV_8UC3 RGB image. Throws Error if rgb8 is not a non-empty CV_8UC3.
  cv::Mat apply(const cv::Mat& rgb8, Rng& rng) const { return apply(rgb8, draw(rgb8.size(), rng)); }

  // The two halves of apply: the random choices for an image of size `source`, and applying them.
  AugmentDraw draw(cv::Size source, Rng& rng) const;
  cv::Mat apply(const cv::Mat& rgb8, const AugmentDraw& d) const;

  // The matrix of the warp: output pixel (x, y) -> source pixel coordinates (pixel centers at
  // integers), before any anti-aliasing prefilter. Keras's transform is built about the output
  // center ((w-1)/2, (h-1)/2) in output pixels, then mapped onto the crop. (Keras's
  // transform_matrix_offset_center uses size/2 + 0.5, a pixel off; the true center keeps a
  // symmetric image symmetric.)
  cv::Matx23d source_from_output(const AugmentDraw& d, cv::Size source) const;

  const AugmentParams& params() const { return params_; }
  int out_width() const { return out_width_; }
  int out_height() const { return out_height_; }

 private:
  AugmentParams params_;
  int out_width_, out_height_;
};

}  // namespace imagefit

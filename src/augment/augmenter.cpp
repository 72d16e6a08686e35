#include "augment/augmenter.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace imagefit {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Uniform doubles and integers from the 64-bit engine, written out so the draws are the same with
// every standard library (std::uniform_real_distribution is implementation-defined).
double uniform01(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
double uniform(Rng& rng, double lo, double hi) { return lo + (hi - lo) * uniform01(rng); }
double uniform(Rng& rng, const Range& r) { return uniform(rng, r.lo, r.hi); }
int uniform_int(Rng& rng, int lo, int hi) {  // inclusive
  const uint64_t n = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int>(rng() % n);
}

// Keras shift: a value < 1 is a fraction of the size, otherwise pixels.
double draw_shift(Rng& rng, double range, int size) {
  const double v = uniform(rng, -range, range);
  return range < 1 ? v * size : v;
}

// torchvision RandomResizedCrop.get_params: 10 tries of a random area fraction and log-uniform
// aspect ratio, then the center crop with the ratio clamped into range.
cv::Rect2d random_resized_crop(Rng& rng, cv::Size source, const Range& scale, const Range& ratio) {
  const int width = source.width, height = source.height;
  const double area = double(width) * height;
  const double log_lo = std::log(ratio.lo), log_hi = std::log(ratio.hi);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * uniform(rng, scale);
    const double aspect = std::exp(uniform(rng, log_lo, log_hi));
    const int w = static_cast<int>(std::nearbyint(std::sqrt(target_area * aspect)));
    const int h = static_cast<int>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int i = uniform_int(rng, 0, height - h);
      const int j = uniform_int(rng, 0, width - w);
      return cv::Rect2d(j, i, w, h);
    }
  }
  const double in_ratio = double(width) / height;
  int w = width, h = height;
  if (in_ratio < ratio.lo) {
    h = static_cast<int>(std::nearbyint(w / ratio.lo));
  } else if (in_ratio > ratio.hi) {
    w = static_cast<int>(std::nearbyint(h * ratio.hi));
  }
  return cv::Rect2d((width - w) / 2, (height - h) / 2, w, h);
}

cv::Matx33d translation(double x, double y) { return cv::Matx33d(1, 0, x, 0, 1, y, 0, 0, 1); }

// Mean of torchvision's grayscale (0.2989 R + 0.587 G + 0.114 B).
cv::Mat grayscale(const cv::Mat& rgb_f) {
  cv::Mat gray;
  cv::transform(rgb_f, gray, cv::Matx13f(0.2989f, 0.587f, 0.114f));
  return gray;
}

void clamp255(cv::Mat& m) {
  cv::min(m, 255.0, m);
  cv::max(m, 0.0, m);
}

// torchvision ColorJitter ops on float RGB in 0..255 (each clamps, like torchvision's _blend).
void adjust_brightness(cv::Mat& m, double f) {
  m *= f;
  clamp255(m);
}

void adjust_contrast(cv::Mat& m, double f) {
  const double mean = cv::mean(grayscale(m))[0];
  m.convertTo(m, CV_32F, f, (1 - f) * mean);
  clamp255(m);
}

void adjust_saturation(cv::Mat& m, double f) {
  cv::Mat gray = grayscale(m), gray3;
  cv::Mat planes[] = {gray, gray, gray};
  cv::merge(planes, 3, gray3);
  cv::addWeighted(m, f, gray3, 1 - f, 0, m);
  clamp255(m);
}

void adjust_hue(cv::Mat& m, double shift) {
  cv::Mat hsv;
  cv::cvtColor(m * (1.0 / 255), hsv, cv::COLOR_RGB2HSV);  // float: H in [0, 360)
  const float delta = static_cast<float>(shift * 360.0);
  for (int y = 0; y < hsv.rows; ++y) {
    auto* row = hsv.ptr<cv::Vec3f>(y);
    for (int x = 0; x < hsv.cols; ++x) {
      float h = row[x][0] + delta;
      h -= 360.f * std::floor(h / 360.f);
      row[x][0] = h;
    }
  }
  cv::cvtColor(hsv, m, cv::COLOR_HSV2RGB);
  m *= 255.0;
  clamp255(m);
}

}  // namespace

cv::Mat resize_for_network(const cv::Mat& rgb, int width, int height) {
  if (rgb.empty() || width <= 0 || height <= 0) throw Error("resize_for_network: empty image or size");
  if (rgb.cols == width && rgb.rows == height) return rgb.clone();
  const bool shrinking = rgb.cols > width || rgb.rows > height;
  cv::Mat out;
  cv::resize(rgb, out, cv::Size(width, height), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

cv::Mat center_crop(const cv::Mat& rgb, int width, int height) {
  if (rgb.empty() || width <= 0 || height <= 0) throw Error("center_crop: empty image or size");
  cv::Mat img = rgb;
  if (width > img.cols || height > img.rows) {
    const int pad_w = std::max(0, width - img.cols), pad_h = std::max(0, height - img.rows);
    cv::copyMakeBorder(img, img, pad_h / 2, (pad_h + 1) / 2, pad_w / 2, (pad_w + 1) / 2, cv::BORDER_CONSTANT,
                       cv::Scalar::all(0));
  }
  // Python's int(round((size - crop) / 2.0)) rounds half to even, as nearbyint does.
  const int top = static_cast<int>(std::nearbyint((img.rows - height) / 2.0));
  const int left = static_cast<int>(std::nearbyint((img.cols - width) / 2.0));
  return img(cv::Rect(left, top, width, height)).clone();
}

cv::Mat resize_shorter_center_crop(const cv::Mat& rgb, int shorter, int width, int height) {
  if (rgb.empty() || shorter <= 0) throw Error("resize_shorter_center_crop: empty image or size");
  int new_w, new_h;
  if (rgb.cols <= rgb.rows) {
    new_w = shorter;
    new_h = static_cast<int>(double(shorter) * rgb.rows / rgb.cols);
  } else {
    new_h = shorter;
    new_w = static_cast<int>(double(shorter) * rgb.cols / rgb.rows);
  }
  return center_crop(resize_for_network(rgb, new_w, new_h), width, height);
}

cv::Mat resize_to_input(const cv::Mat& rgb, int size, ResizeMode mode) {
  if (rgb.empty() || size <= 0) throw Error("resize_to_input: empty image or size");
  switch (mode) {
    case ResizeMode::Squash: break;
    case ResizeMode::Crop: {
      const int side = std::min(rgb.cols, rgb.rows);
      return resize_for_network(rgb(cv::Rect((rgb.cols - side) / 2, (rgb.rows - side) / 2, side, side)), size, size);
    }
    case ResizeMode::CenterCrop:
      return resize_shorter_center_crop(rgb, static_cast<int>(std::lround(size / 0.875)), size, size);
  }
  return resize_for_network(rgb, size, size);
}

bool AugmentDraw::identity_geometry(cv::Size source) const {
  const bool whole = crop.width <= 0 || crop.height <= 0 ||
                     (crop.x == 0 && crop.y == 0 && crop.width == source.width && crop.height == source.height);
  return whole && rotation == 0 && shift_x == 0 && shift_y == 0 && shear == 0 && zoom_x == 1 && zoom_y == 1;
}

Augmenter::Augmenter(const AugmentParams& params, int out_width, int out_height)
    : params_(params), out_width_(out_width), out_height_(out_height) {
  if (out_width <= 0 || out_height <= 0)
    throw Error("augment: output size " + std::to_string(out_width) + "x" + std::to_string(out_height) + " is not positive");
}

AugmentDraw Augmenter::draw(cv::Size source, Rng& rng) const {
  const AugmentParams& p = params_;
  AugmentDraw d;
  if (p.random_resized_crop) d.crop = random_resized_crop(rng, source, p.crop_scale, p.crop_ratio);
  // Keras get_random_transform order: theta, tx (height), ty (width), shear, zx (rows), zy (cols).
  if (p.rotation_range > 0) d.rotation = uniform(rng, -p.rotation_range, p.rotation_range);
  if (p.random_rotation > 0) d.rotation += uniform(rng, -p.random_rotation, p.random_rotation);
  if (p.height_shift_range > 0) d.shift_y = draw_shift(rng, p.height_shift_range, out_height_);
  if (p.width_shift_range > 0) d.shift_x = draw_shift(rng, p.width_shift_range, out_width_);
  if (p.shear_range > 0) d.shear = uniform(rng, -p.shear_range, p.shear_range);
  if (p.zoom_range != Range{1, 1}) {
    d.zoom_y = uniform(rng, p.zoom_range);
    d.zoom_x = uniform(rng, p.zoom_range);
  }
  if (p.horizontal_flip) d.flip_horizontal = uniform01(rng) < 0.5;
  if (p.vertical_flip) d.flip_vertical = uniform01(rng) < 0.5;
  if (p.channel_shift_range > 0) d.channel_shift = uniform(rng, -p.channel_shift_range, p.channel_shift_range);
  if (p.brightness_range != Range{1, 1}) d.brightness = uniform(rng, p.brightness_range);
  // ColorJitter.get_params: a random permutation, then the factors of the enabled ops.
  const bool jitter = p.jitter_brightness != Range{1, 1} || p.jitter_contrast != Range{1, 1} ||
                      p.jitter_saturation != Range{1, 1} || p.jitter_hue != Range{0, 0};
  if (jitter) {
    for (int i = 3; i > 0; --i) std::swap(d.jitter_order[i], d.jitter_order[uniform_int(rng, 0, i)]);
    if (p.jitter_brightness != Range{1, 1}) d.jitter_brightness = uniform(rng, p.jitter_brightness);
    if (p.jitter_contrast != Range{1, 1}) d.jitter_contrast = uniform(rng, p.jitter_contrast);
    if (p.jitter_saturation != Range{1, 1}) d.jitter_saturation = uniform(rng, p.jitter_saturation);
    if (p.jitter_hue != Range{0, 0}) d.jitter_hue = uniform(rng, p.jitter_hue);
  }
  if (p.blur_probability > 0 && uniform01(rng) < p.blur_probability) d.blur_sigma = uniform(rng, p.blur_sigma);
  if (p.noise_std > 0) {
    d.noise_std = p.noise_std * 255.0;
    d.noise_seed = rng();
  }
  return d;
}

cv::Matx23d Augmenter::source_from_output(const AugmentDraw& d, cv::Size source) const {
  // Keras apply_affine_transform, written for (x, y) instead of (row, col): rotation, shift, shear,
  // zoom, composed in that order and conjugated with a translation to the center.
  const double theta = d.rotation * kPi / 180, c = std::cos(theta), s = std::sin(theta);
  const double shear = d.shear * kPi / 180;
  const cv::Matx33d rotation(c, s, 0, -s, c, 0, 0, 0, 1);
  const cv::Matx33d shift = translation(d.shift_x, d.shift_y);
  const cv::Matx33d shear_m(std::cos(shear), 0, 0, -std::sin(shear), 1, 0, 0, 0, 1);
  const cv::Matx33d zoom(d.zoom_x, 0, 0, 0, d.zoom_y, 0, 0, 0, 1);
  const double cx = (out_width_ - 1) / 2.0, cy = (out_height_ - 1) / 2.0;
  const cv::Matx33d keras = translation(cx, cy) * rotation * shift * shear_m * zoom * translation(-cx, -cy);
  // The output grid stretched over the crop, pixel centers aligned (as cv::resize does).
  cv::Rect2d crop = d.crop;
  if (crop.width <= 0 || crop.height <= 0) crop = cv::Rect2d(0, 0, source.width, source.height);
  const double sx = crop.width / out_width_, sy = crop.height / out_height_;
  const cv::Matx33d to_source(sx, 0, crop.x + 0.5 * sx - 0.5, 0, sy, crop.y + 0.5 * sy - 0.5, 0, 0, 1);
  const cv::Matx33d m = to_source * keras;
  return cv::Matx23d(m(0, 0), m(0, 1), m(0, 2), m(1, 0), m(1, 1), m(1, 2));
}

cv::Mat Augmenter::apply(const cv::Mat& rgb8, const AugmentDraw& d) const {
  if (rgb8.empty() || rgb8.type() != CV_8UC3) throw Error("augment: expected a non-empty 8-bit RGB image");
  cv::Mat out;
  if (d.identity_geometry(rgb8.size())) {
    out = resize_for_network(rgb8, out_width_, out_height_);
  } else {
    cv::Matx23d m = source_from_output(d, rgb8.size());
    cv::Mat src = rgb8;
    // Anti-aliasing: where one output pixel spans k >= 2 source pixels along an axis, average k×k
    // blocks first (a box prefilter; whole blocks only, which takes OpenCV's fast exact path and
    // drops at most k-1 edge pixels), so the bilinear warp does not alias.
    const int kx = std::clamp(static_cast<int>(std::hypot(m(0, 0), m(0, 1)) + 1e-9), 1, rgb8.cols);
    const int ky = std::clamp(static_cast<int>(std::hypot(m(1, 0), m(1, 1)) + 1e-9), 1, rgb8.rows);
    if (kx >= 2 || ky >= 2) {
      const int w = rgb8.cols / kx, h = rgb8.rows / ky;
      cv::resize(rgb8(cv::Rect(0, 0, w * kx, h * ky)), src, cv::Size(w, h), 0, 0, cv::INTER_AREA);
      const cv::Matx33d to_small(1.0 / kx, 0, 0.5 / kx - 0.5, 0, 1.0 / ky, 0.5 / ky - 0.5, 0, 0, 1);
      const cv::Matx33d big(m(0, 0), m(0, 1), m(0, 2), m(1, 0), m(1, 1), m(1, 2), 0, 0, 1);
      const cv::Matx33d small = to_small * big;
      m = cv::Matx23d(small(0, 0), small(0, 1), small(0, 2), small(1, 0), small(1, 1), small(1, 2));
    }
    cv::warpAffine(src, out, cv::Mat(m), cv::Size(out_width_, out_height_), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   opencv_border_mode(params_.fill_mode), cv::Scalar::all(params_.cval));
  }
  if (d.flip_horizontal && d.flip_vertical) cv::flip(out, out, -1);
  else if (d.flip_horizontal) cv::flip(out, out, 1);
  else if (d.flip_vertical) cv::flip(out, out, 0);

  const bool photometric = d.channel_shift != 0 || d.brightness != 1 || d.jitter_brightness != 1 ||
                           d.jitter_contrast != 1 || d.jitter_saturation != 1 || d.jitter_hue != 0 ||
                           d.blur_sigma > 0 || d.noise_std > 0;
  if (!photometric) return out;
  cv::Mat f;
  out.convertTo(f, CV_32F);
  if (d.channel_shift != 0) {
    // Keras apply_channel_shift: one offset for all channels, clipped to the image's own min/max.
    double lo, hi;
    cv::minMaxLoc(f.reshape(1), &lo, &hi);
    f += cv::Scalar::all(d.channel_shift);
    cv::min(f, hi, f);
    cv::max(f, lo, f);
  }
  if (d.brightness != 1) adjust_brightness(f, d.brightness);  // Keras: PIL ImageEnhance.Brightness
  for (int op : d.jitter_order) {
    if (op == 0 && d.jitter_brightness != 1) adjust_brightness(f, d.jitter_brightness);
    if (op == 1 && d.jitter_contrast != 1) adjust_contrast(f, d.jitter_contrast);
    if (op == 2 && d.jitter_saturation != 1) adjust_saturation(f, d.jitter_saturation);
    if (op == 3 && d.jitter_hue != 0) adjust_hue(f, d.jitter_hue);
  }
  if (d.blur_sigma > 0) {
    // torchvision GaussianBlur pads by reflection (= BORDER_REFLECT_101); kernel covers ±3 sigma.
    int k = 2 * static_cast<int>(std::ceil(3 * d.blur_sigma)) + 1;
    k = std::min(k, 2 * std::min(f.cols, f.rows) - 1);
    cv::GaussianBlur(f, f, cv::Size(k, k), d.blur_sigma, d.blur_sigma, cv::BORDER_REFLECT_101);
  }
  if (d.noise_std > 0) {
    cv::Mat noise(f.size(), f.type());
    cv::RNG noise_rng(d.noise_seed);
    noise_rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(d.noise_std));
    f += noise;
  }
  f.convertTo(out, CV_8U);  // rounds to nearest and saturates to 0..255
  return out;
}

}  // namespace imagefit

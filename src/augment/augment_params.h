#pragma once
// What random augmentation to apply to training images: Keras ImageDataGenerator parameters
// (same names and meanings) plus torchvision-style transforms, parsed from a short spec string
// such as "keras-tutorial,vertical_flip=true" so the CLI, the model file and the history agree.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace imagefit {

// A closed interval [lo, hi] written "lo:hi" in specs and [lo, hi] in JSON.
struct Range {
  double lo = 0.0, hi = 0.0;
  bool operator==(const Range& o) const { return lo == o.lo && hi == o.hi; }
  bool operator!=(const Range& o) const { return !(*this == o); }
};

// How pixels outside the image are filled, as Keras (scipy.ndimage) names them.
enum class FillMode {
  Nearest,   // aaaa|abcd|dddd   cv::BORDER_REPLICATE
  Constant,  // kkkk|abcd|kkkk   cv::BORDER_CONSTANT with cval
  Reflect,   // dcba|abcd|dcba   cv::BORDER_REFLECT (scipy 'reflect', half-sample symmetric)
  Wrap,      // abcd|abcd|abcd   cv::BORDER_WRAP (periodic; scipy >= 1.6 calls this 'grid-wrap')
};
std::string to_string(FillMode mode);
FillMode fill_mode_from_string(const std::string& name);  // throws Error listing the choices
int opencv_border_mode(FillMode mode);

struct AugmentParams {
  // --- Keras ImageDataGenerator (geometry is drawn per image and applied as ONE affine warp) ---
  double rotation_range = 0;      // degrees: angle uniform in [-r, r]
  double width_shift_range = 0;   // < 1: fraction of the width; >= 1: pixels of the output image
  double height_shift_range = 0;  // same, for the height
  double shear_range = 0;         // degrees (Keras 2.x): shear angle uniform in [-s, s]
  Range zoom_range{1, 1};         // Keras zoom: x and y factors drawn independently; > 1 zooms out
  bool horizontal_flip = false;   // mirror left-right with probability 1/2
  bool vertical_flip = false;     // mirror top-bottom with probability 1/2
  FillMode fill_mode = FillMode::Nearest;
  double cval = 0;                   // fill value for fill_mode=constant, 0..255
  Range brightness_range{1, 1};      // multiply by a factor uniform in the range (PIL Brightness); {1,1} = off
  double channel_shift_range = 0;    // add one offset uniform in [-c, c] (0..255 units), clip to image min/max

  // --- torchvision-style ---
  bool random_resized_crop = false;  // RandomResizedCrop: crop of area fraction `crop_scale` and
  Range crop_scale{0.08, 1.0};       // aspect ratio (log-uniform) in `crop_ratio`, 10 tries, then
  Range crop_ratio{3.0 / 4.0, 4.0 / 3.0};  // the center-crop fallback; resized to the output size
  double random_rotation = 0;        // RandomRotation(degrees): extra angle uniform in [-d, d]
  // ColorJitter factors, applied in a random order as torchvision does. Brightness, contrast and
  // saturation are factor ranges ({1,1} = off); hue is a shift range in [-0.5, 0.5] ({0,0} = off).
  Range jitter_brightness{1, 1}, jitter_contrast{1, 1}, jitter_saturation{1, 1}, jitter_hue{0, 0};
  double blur_probability = 0;  // GaussianBlur applied with this probability,
  Range blur_sigma{0.1, 2.0};   // sigma uniform in this range (kernel 2*ceil(3 sigma)+1)
  double noise_std = 0;         // additive Gaussian noise, std as a fraction of the 0..255 range

  bool has_geometry() const;     // anything that needs the affine warp (beyond the plain resize)
  bool has_photometric() const;  // anything that changes pixel values
  bool is_identity() const { return !has_geometry() && !has_photometric() && !horizontal_flip && !vertical_flip; }

  bool operator==(const AugmentParams& o) const;
  bool operator!=(const AugmentParams& o) const { return !(*this == o); }
};

// Names of the presets (none, light, keras-tutorial, strong, d2l-hotdog).
const std::vector<std::string>& augment_preset_names();
// A preset by name; throws Error listing the presets if unknown.
AugmentParams augment_preset(const std::string& name);

// Parses a spec: a preset name, comma-separated key=value pairs optionally starting with a
// preset ("keras-tutorial,vertical_flip=true"), or "@path" to a file holding key=value lines
// (# comments allowed, a preset name alone on a line) or a JSON object. Unknown keys and
// out-of-range values throw Error naming the key (and the file for @path).
AugmentParams parse_augment(const std::string& spec);
// Sets one key (Keras / imagefit name) from its text value; throws Error naming the key.
void set_augment_key(AugmentParams& params, const std::string& key, const std::string& value);

// Every parameter, typed (ranges as [lo, hi]). from_json starts from "none" and accepts any
// subset of the keys (and "preset"); unknown keys throw Error.
nlohmann::json to_json(const AugmentParams& params);
AugmentParams augment_from_json(const nlohmann::json& j);
void to_json(nlohmann::json& j, const AugmentParams& params);
void from_json(const nlohmann::json& j, AugmentParams& params);

// One line: the non-default settings as a spec that parse_augment reads back, or "none".
std::string describe(const AugmentParams& params);

}  // namespace imagefit

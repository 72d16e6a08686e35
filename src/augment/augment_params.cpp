#include "augment/augment_params.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>

#include <opencv2/core.hpp>

#include "core/error.h"
#include "core/suggest.h"
#include "core/fs.h"

namespace imagefit {
namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// Shortest text that reads back to the same double (0.2, not 0.20000000000000001).
std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

[[noreturn]] void fail(const std::string& key, const std::string& value, const std::string& why) {
  throw Error("augment option '" + key + "': value '" + value + "' " + why);
}

double parse_number(const std::string& key, const std::string& text) {
  const std::string t = trim(text);
  char* end = nullptr;
  const double v = t.empty() ? 0.0 : std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(v)) fail(key, text, "is not a number");
  return v;
}

double parse_in(const std::string& key, const std::string& text, double lo, double hi, const std::string& unit) {
  const double v = parse_number(key, text);
  if (v < lo || v > hi)
    fail(key, text, "is out of range [" + format_number(lo) + ", " + format_number(hi) + "]" + (unit.empty() ? "" : " " + unit));
  return v;
}

bool parse_bool(const std::string& key, const std::string& text) {
  std::string t = trim(text);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  fail(key, text, "is not a boolean (true or false)");
}

bool is_pair(const std::string& text) { return text.find(':') != std::string::npos; }

// "lo:hi" with min <= lo <= hi <= max (lo > min when min_exclusive).
Range parse_pair(const std::string& key, const std::string& text, double min, double max, bool min_exclusive = false) {
  const auto parts = split(text, ':');
  if (parts.size() != 2) fail(key, text, "is not a range lo:hi");
  Range r{parse_number(key, parts[0]), parse_number(key, parts[1])};
  if (r.lo > r.hi) fail(key, text, "has lo > hi");
  if (r.lo < min || (min_exclusive && r.lo == min) || r.hi > max)
    fail(key, text, "is out of range " + std::string(min_exclusive ? "(" : "[") + format_number(min) + ", " +
                        format_number(max) + "]");
  return r;
}

// torchvision ColorJitter brightness/contrast/saturation: v -> [max(0, 1 - v), 1 + v], or a factor range.
Range parse_jitter_factor(const std::string& key, const std::string& text) {
  if (is_pair(text)) return parse_pair(key, text, 0, 100);
  const double v = parse_in(key, text, 0, 100, "");
  return Range{std::max(0.0, 1.0 - v), 1.0 + v};
}

// torchvision ColorJitter hue: v -> [-v, v] with v <= 0.5, or a range within [-0.5, 0.5].
Range parse_jitter_hue(const std::string& key, const std::string& text) {
  if (is_pair(text)) return parse_pair(key, text, -0.5, 0.5);
  const double v = parse_in(key, text, 0, 0.5, "(fraction of the hue circle)");
  return Range{-v, v};
}

using Setter = std::function<void(AugmentParams&, const std::string& key, const std::string& value)>;

// Every option, in the canonical order used by to_json and describe.
const std::vector<std::pair<std::string, Setter>>& setters() {
  static const std::vector<std::pair<std::string, Setter>> table = {
      {"rotation_range",
       [](AugmentParams& p, const std::string& k, const std::string& v) { p.rotation_range = parse_in(k, v, 0, 360, "(degrees)"); }},
      {"width_shift_range",
       [](AugmentParams& p, const std::string& k, const std::string& v) {
         p.width_shift_range = parse_in(k, v, 0, 100000, "(< 1: fraction of the width, >= 1: pixels)");
       }},
      {"height_shift_range",
       [](AugmentParams& p, const std::string& k, const std::string& v) {
         p.height_shift_range = parse_in(k, v, 0, 100000, "(< 1: fraction of the height, >= 1: pixels)");
       }},
      {"shear_range",
       [](AugmentParams& p, const std::string& k, const std::string& v) { p.shear_range = parse_in(k, v, 0, 80, "(degrees)"); }},
      {"zoom_range",
       [](AugmentParams& p, const std::string& k, const std::string& v) {
         if (is_pair(v)) {
           p.zoom_range = parse_pair(k, v, 0, 100, /*min_exclusive=*/true);
         } else {
           const double z = parse_number(k, v);
           if (z < 0 || z >= 1) fail(k, v, "is out of range [0, 1) (a float z means zoom factors in [1-z, 1+z]; use lo:hi otherwise)");
           p.zoom_range = Range{1 - z, 1 + z};
         }
       }},
      {"horizontal_flip",
       [](AugmentParams& p, const std::string& k, const std::string& v) { p.horizontal_flip = parse_bool(k, v); }},
      {"vertical_flip",
       [](AugmentParams& p, const std::string& k, const std::string& v) { p.vertical_flip = parse_bool(k, v); }},
      {"fill_mode",
       [](AugmentParams& p, const std::string& k, const std::string& v) {
         try {
           p.fill_mode = fill_mode_from_string(trim(v));
         } catch (const Error&) {
           fail(k, v, "is not a fill mode (nearest, constant, reflect, wrap)");
         }
       }},
      {"cval", [](AugmentParams& p, const std::string& k, const std::string& v) { p.cval = parse_in(k, v, 0, 255, ""); }},
      {"brightness_range",
       [](AugmentParams& p, const std::string& k, const std::string& v) {
         if (!is_pair(v)) fail(k, v, "is not a range lo:hi (Keras brightness_range is a pair of factors)");
         p.brightness_range = parse_pair(k, v, 0, 100);
       }},
      {"channel_shift_range",
       [](AugmentParams& p, const std::string& k, const std::string& v) {
         p.channel_shift_range = parse_in(k, v, 0, 255, "(pixel values)");
       }},
      {"random_resized_crop",
       [](AugmentParams& p, const std::string& k, const std::string& v) {
         if (is_pair(v)) {
           p.random_resized_crop = true;
           p.crop_scale = parse_pair(k, v, 0, 1, /*min_exclusive=*/true);
         } else {
           p.random_resized_crop = parse_bool(k, v);
         }
       }},
      {"crop_scale",
       [](AugmentParams& p, const std::string& k, const std::string& v) {
         p.crop_scale = parse_pair(k, v, 0, 1, /*min_exclusive=*/true);
       }},
      {"crop_ratio",
       [](AugmentParams& p, const std::string& k, const std::string& v) {
         p.crop_ratio = parse_pair(k, v, 0, 100, /*min_exclusive=*/true);
       }},
      {"random_rotation",
       [](AugmentParams& p, const std::string& k, const std::string& v) { p.random_rotation = parse_in(k, v, 0, 360, "(degrees)"); }},
      {"color_jitter",
       [](AugmentParams& p, const std::string& k, const std::string& v) {
         // Positional like torchvision ColorJitter(brightness, contrast, saturation, hue).
         const auto parts = split(v, ':');
         if (parts.size() > 4) fail(k, v, "has more than 4 values (brightness:contrast:saturation:hue)");
         Range* factors[3] = {&p.jitter_brightness, &p.jitter_contrast, &p.jitter_saturation};
         for (size_t i = 0; i < 3; ++i) *factors[i] = i < parts.size() ? parse_jitter_factor(k, parts[i]) : Range{1, 1};
         p.jitter_hue = parts.size() == 4 ? parse_jitter_hue(k, parts[3]) : Range{0, 0};
       }},
      {"jitter_brightness",
       [](AugmentParams& p, const std::string& k, const std::string& v) { p.jitter_brightness = parse_jitter_factor(k, v); }},
      {"jitter_contrast",
       [](AugmentParams& p, const std::string& k, const std::string& v) { p.jitter_contrast = parse_jitter_factor(k, v); }},
      {"jitter_saturation",
       [](AugmentParams& p, const std::string& k, const std::string& v) { p.jitter_saturation = parse_jitter_factor(k, v); }},
      {"jitter_hue", [](AugmentParams& p, const std::string& k, const std::string& v) { p.jitter_hue = parse_jitter_hue(k, v); }},
      {"blur_probability",
       [](AugmentParams& p, const std::string& k, const std::string& v) { p.blur_probability = parse_in(k, v, 0, 1, ""); }},
      {"blur_sigma",
       [](AugmentParams& p, const std::string& k, const std::string& v) {
         if (is_pair(v)) {
           p.blur_sigma = parse_pair(k, v, 0, 50, /*min_exclusive=*/true);
         } else {
           const double s = parse_in(k, v, 0, 50, "(pixels)");
           if (s == 0) fail(k, v, "must be > 0");
           p.blur_sigma = Range{s, s};
         }
       }},
      {"noise_std",
       [](AugmentParams& p, const std::string& k, const std::string& v) {
         p.noise_std = parse_in(k, v, 0, 1, "(fraction of the 0..255 range)");
       }},
  };
  return table;
}

std::string option_names() {
  std::string s;
  for (const auto& [name, setter] : setters()) {
    if (name == "color_jitter") continue;  // shorthand, not stored
    s += (s.empty() ? "" : ", ") + name;
  }
  return s;
}

std::string preset_list() {
  std::string s;
  for (const auto& name : augment_preset_names()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

// Items of a spec: the first may be a preset name, the rest key=value.
AugmentParams parse_items(const std::vector<std::string>& items) {
  AugmentParams params;
  bool first = true;
  for (const auto& raw : items) {
    const std::string item = trim(raw);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      const auto& names = augment_preset_names();
      if (std::find(names.begin(), names.end(), item) == names.end())
        throw Error("augment: '" + item + "' is neither a preset (" + preset_list() + ") nor key=value" +
                    did_you_mean(item, names));
      if (!first) throw Error("augment: preset '" + item + "' must come first in the spec");
      params = augment_preset(item);
    } else {
      set_augment_key(params, trim(item.substr(0, eq)), trim(item.substr(eq + 1)));
    }
    first = false;
  }
  return params;
}

AugmentParams parse_file(const std::string& path) {
  const std::string text = read_file(path);
  const std::string body = trim(text);
  try {
    if (!body.empty() && body[0] == '{') {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(body);
      } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("invalid JSON (") + e.what() + ")");
      }
      return augment_from_json(j);
    }
    std::vector<std::string> items;
    for (std::string line : split(text, '\n')) {
      const size_t hash = line.find('#');
      if (hash != std::string::npos) line.resize(hash);
      for (const auto& item : split(line, ',')) items.push_back(item);
    }
    return parse_items(items);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace

std::string to_string(FillMode mode) {
  switch (mode) {
    case FillMode::Nearest: return "nearest";
    case FillMode::Constant: return "constant";
    case FillMode::Reflect: return "reflect";
    case FillMode::Wrap: return "wrap";
  }
  return "?";
}

FillMode fill_mode_from_string(const std::string& name) {
  if (name == "nearest") return FillMode::Nearest;
  if (name == "constant") return FillMode::Constant;
  if (name == "reflect") return FillMode::Reflect;
  if (name == "wrap") return FillMode::Wrap;
  throw Error("unknown fill_mode '" + name + "' (nearest, constant, reflect, wrap)");
}

int opencv_border_mode(FillMode mode) {
  switch (mode) {
    case FillMode::Nearest: return cv::BORDER_REPLICATE;
    case FillMode::Constant: return cv::BORDER_CONSTANT;
    case FillMode::Reflect: return cv::BORDER_REFLECT;
    case FillMode::Wrap: return cv::BORDER_WRAP;
  }
  return cv::BORDER_REPLICATE;
}

bool AugmentParams::has_geometry() const {
  return rotation_range > 0 || width_shift_range > 0 || height_shift_range > 0 || shear_range > 0 ||
         zoom_range != Range{1, 1} || random_resized_crop || random_rotation > 0;
}

bool AugmentParams::has_photometric() const {
  return brightness_range != Range{1, 1} || channel_shift_range > 0 || jitter_brightness != Range{1, 1} ||
         jitter_contrast != Range{1, 1} || jitter_saturation != Range{1, 1} || jitter_hue != Range{0, 0} ||
         blur_probability > 0 || noise_std > 0;
}

bool AugmentParams::operator==(const AugmentParams& o) const { return to_json(*this) == to_json(o); }

const std::vector<std::string>& augment_preset_names() {
  static const std::vector<std::string> names = {"none", "light", "keras-tutorial", "strong", "d2l-hotdog"};
  return names;
}

AugmentParams augment_preset(const std::string& name) {
  AugmentParams p;
  if (name == "none") return p;
  if (name == "light") {
    // Small, label-safe changes for any dataset.
    p.rotation_range = 10;
    p.width_shift_range = 0.1;
    p.height_shift_range = 0.1;
    p.zoom_range = Range{0.9, 1.1};
    p.horizontal_flip = true;
    p.fill_mode = FillMode::Reflect;
    return p;
  }
  if (name == "keras-tutorial") {
    // The Keras tutorial's ImageDataGenerator(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
    // shear_range=0.2, zoom_range=0.2, horizontal_flip=True, fill_mode='nearest').
    p.rotation_range = 40;
    p.width_shift_range = 0.2;
    p.height_shift_range = 0.2;
    p.shear_range = 0.2;
    p.zoom_range = Range{0.8, 1.2};
    p.horizontal_flip = true;
    p.fill_mode = FillMode::Nearest;
    return p;
  }
  if (name == "strong") {
    // ImageNet-style crops + color, plus the Create ML extras (rotation, blur, noise).
    p.random_resized_crop = true;
    p.crop_scale = Range{0.25, 1.0};
    p.rotation_range = 15;
    p.horizontal_flip = true;
    p.fill_mode = FillMode::Reflect;
    p.jitter_brightness = Range{0.6, 1.4};
    p.jitter_contrast = Range{0.6, 1.4};
    p.jitter_saturation = Range{0.6, 1.4};
    p.jitter_hue = Range{-0.05, 0.05};
    p.blur_probability = 0.2;
    p.noise_std = 0.02;
    return p;
  }
  if (name == "d2l-hotdog") {
    // d2l's hot-dog recipe: RandomHorizontalFlip, RandomVerticalFlip, RandomResizedCrop(scale=(0.1, 1), ratio=(0.5, 2)),
    // ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.5).
    p.horizontal_flip = true;
    p.vertical_flip = true;
    p.random_resized_crop = true;
    p.crop_scale = Range{0.1, 1.0};
    p.crop_ratio = Range{0.5, 2.0};
    p.jitter_brightness = Range{0.5, 1.5};
    p.jitter_contrast = Range{0.5, 1.5};
    p.jitter_saturation = Range{0.5, 1.5};
    p.jitter_hue = Range{-0.5, 0.5};
    return p;
  }
  throw Error("unknown augmentation preset '" + name + "' (presets: " + preset_list() + ")" +
              did_you_mean(name, augment_preset_names()));
}

// Keras's `rescale` is not an augmentation: imagefit feeds every architecture its own input scaling
// (simple-cnn x/255, exactly the tutorial's rescale=1/255; MobileNet [-1, 1]). Accepted so a pasted
// ImageDataGenerator setting works, and only as 1/255, since any other value would change nothing.
namespace {
void check_rescale(const std::string& key, const std::string& value) {
  const std::string t = trim(value);
  const size_t slash = t.find('/');
  const double v = slash == std::string::npos
                       ? parse_number(key, t)
                       : parse_number(key, t.substr(0, slash)) / parse_number(key, t.substr(slash + 1));
  if (!(std::abs(v - 1.0 / 255) < 1e-6))
    fail(key, value, "is not 1/255: imagefit scales pixels as each architecture expects (simple-cnn x/255, as "
                     "Keras's rescale=1/255); there is no other rescale to set");
}
}  // namespace

void set_augment_key(AugmentParams& params, const std::string& key, const std::string& value) {
  if (key == "rescale") return check_rescale(key, value);
  for (const auto& [name, setter] : setters()) {
    if (name == key) {
      setter(params, key, value);
      return;
    }
  }
  std::vector<std::string> keys{"rescale"};
  for (const auto& [name, setter] : setters()) keys.push_back(name);
  throw Error("augment: unknown option '" + key + "'" + did_you_mean(key, keys) + " (options: " + option_names() +
              ", color_jitter)");
}

AugmentParams parse_augment(const std::string& spec) {
  const std::string s = trim(spec);
  if (!s.empty() && s[0] == '@') return parse_file(trim(s.substr(1)));
  return parse_items(split(s, ','));
}

nlohmann::json to_json(const AugmentParams& p) {
  auto range = [](const Range& r) { return nlohmann::json::array({r.lo, r.hi}); };
  return nlohmann::json{
      {"rotation_range", p.rotation_range},
      {"width_shift_range", p.width_shift_range},
      {"height_shift_range", p.height_shift_range},
      {"shear_range", p.shear_range},
      {"zoom_range", range(p.zoom_range)},
      {"horizontal_flip", p.horizontal_flip},
      {"vertical_flip", p.vertical_flip},
      {"fill_mode", to_string(p.fill_mode)},
      {"cval", p.cval},
      {"brightness_range", range(p.brightness_range)},
      {"channel_shift_range", p.channel_shift_range},
      {"random_resized_crop", p.random_resized_crop},
      {"crop_scale", range(p.crop_scale)},
      {"crop_ratio", range(p.crop_ratio)},
      {"random_rotation", p.random_rotation},
      {"jitter_brightness", range(p.jitter_brightness)},
      {"jitter_contrast", range(p.jitter_contrast)},
      {"jitter_saturation", range(p.jitter_saturation)},
      {"jitter_hue", range(p.jitter_hue)},
      {"blur_probability", p.blur_probability},
      {"blur_sigma", range(p.blur_sigma)},
      {"noise_std", p.noise_std},
  };
}

AugmentParams augment_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("augment: JSON settings must be an object of option: value");
  AugmentParams params;
  if (j.contains("preset")) {
    if (!j["preset"].is_string()) throw Error("augment option 'preset': must be a preset name string");
    params = augment_preset(j["preset"].get<std::string>());
  }
  for (const auto& [key, value] : j.items()) {
    if (key == "preset") continue;
    std::string text;
    if (value.is_boolean()) {
      text = value.get<bool>() ? "true" : "false";
    } else if (value.is_number()) {
      text = format_number(value.get<double>());
    } else if (value.is_string()) {
      text = value.get<std::string>();
    } else if (value.is_array() && !value.empty() &&
               std::all_of(value.begin(), value.end(), [](const nlohmann::json& x) { return x.is_number(); })) {
      for (const auto& x : value) text += (text.empty() ? "" : ":") + format_number(x.get<double>());
    } else {
      throw Error("augment option '" + key + "': unsupported JSON value " + value.dump());
    }
    set_augment_key(params, key, text);
  }
  return params;
}

void to_json(nlohmann::json& j, const AugmentParams& params) { j = to_json(params); }
void from_json(const nlohmann::json& j, AugmentParams& params) { params = augment_from_json(j); }

std::string describe(const AugmentParams& p) {
  const nlohmann::json mine = to_json(p), none = to_json(AugmentParams{});
  std::string out;
  for (const auto& [key, setter] : setters()) {
    if (!mine.contains(key) || mine[key] == none[key]) continue;
    const auto& v = mine[key];
    std::string text;
    if (v.is_boolean()) text = v.get<bool>() ? "true" : "false";
    else if (v.is_number()) text = format_number(v.get<double>());
    else if (v.is_string()) text = v.get<std::string>();
    else text = format_number(v[0].get<double>()) + ":" + format_number(v[1].get<double>());
    out += (out.empty() ? "" : ",") + key + "=" + text;
  }
  return out.empty() ? "none" : out;
}

}  // namespace imagefit

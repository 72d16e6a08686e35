// Parsing of augmentation specs: presets, key=value lists, @files, JSON, and errors that name the key.
#include <fstream>

#include <opencv2/core.hpp>

#include "augment/augment_params.h"
#include "core/error.h"
#include "core/fs.h"
#include "test_support.h"

namespace imagefit {
namespace {

std::string error_of(const std::string& spec) {
  try {
    parse_augment(spec);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(AugmentParams, KerasTutorialPresetIsExactlyTheTutorialGenerator) {
  AugmentParams expected;  // everything else stays off
  expected.rotation_range = 40;
  expected.width_shift_range = 0.2;
  expected.height_shift_range = 0.2;
  expected.shear_range = 0.2;
  expected.zoom_range = Range{0.8, 1.2};
  expected.horizontal_flip = true;
  expected.fill_mode = FillMode::Nearest;
  const AugmentParams p = parse_augment("keras-tutorial");
  EXPECT_EQ(p, expected) << to_json(p).dump();
  EXPECT_EQ(p.zoom_range.lo, 1 - 0.2);
  EXPECT_EQ(p.zoom_range.hi, 1 + 0.2);
  EXPECT_FALSE(p.vertical_flip);
  EXPECT_FALSE(p.random_resized_crop);
  EXPECT_FALSE(p.has_photometric());
  EXPECT_EQ(describe(p),
            "rotation_range=40,width_shift_range=0.2,height_shift_range=0.2,shear_range=0.2,zoom_range=0.8:1.2,"
            "horizontal_flip=true");
}

TEST(AugmentParams, D2lHotdogPresetIsExactlyTheChapterTransforms) {
  AugmentParams expected;
  expected.horizontal_flip = true;
  expected.vertical_flip = true;
  expected.random_resized_crop = true;
  expected.crop_scale = Range{0.1, 1.0};
  expected.crop_ratio = Range{0.5, 2.0};
  expected.jitter_brightness = Range{0.5, 1.5};
  expected.jitter_contrast = Range{0.5, 1.5};
  expected.jitter_saturation = Range{0.5, 1.5};
  expected.jitter_hue = Range{-0.5, 0.5};
  EXPECT_EQ(parse_augment("d2l-hotdog"), expected);
  // The same written the torchvision way.
  EXPECT_EQ(parse_augment("horizontal_flip=true,vertical_flip=true,random_resized_crop=0.1:1,crop_ratio=0.5:2,"
                          "color_jitter=0.5:0.5:0.5:0.5"),
            expected);
}

TEST(AugmentParams, NoneAndEmptyAreIdentity) {
  EXPECT_TRUE(parse_augment("none").is_identity());
  EXPECT_TRUE(parse_augment("").is_identity());
  EXPECT_EQ(describe(parse_augment("none")), "none");
  EXPECT_FALSE(parse_augment("light").is_identity());
  EXPECT_FALSE(parse_augment("strong").is_identity());
}

TEST(AugmentParams, PresetThenOverrides) {
  const AugmentParams p = parse_augment(" keras-tutorial , vertical_flip=true, fill_mode = reflect ");
  AugmentParams expected = augment_preset("keras-tutorial");
  expected.vertical_flip = true;
  expected.fill_mode = FillMode::Reflect;
  EXPECT_EQ(p, expected);
}

TEST(AugmentParams, KerasValueSemantics) {
  EXPECT_EQ(parse_augment("zoom_range=0.3").zoom_range, (Range{0.7, 1.3}));
  EXPECT_EQ(parse_augment("zoom_range=0.5:1.5").zoom_range, (Range{0.5, 1.5}));
  EXPECT_EQ(parse_augment("brightness_range=0.2:1.8").brightness_range, (Range{0.2, 1.8}));
  EXPECT_EQ(parse_augment("jitter_brightness=0.4").jitter_brightness, (Range{0.6, 1.4}));
  EXPECT_EQ(parse_augment("jitter_contrast=1.5").jitter_contrast, (Range{0.0, 2.5}));  // torchvision: max(0, 1 - v)
  EXPECT_EQ(parse_augment("jitter_hue=0.1").jitter_hue, (Range{-0.1, 0.1}));
  EXPECT_EQ(parse_augment("color_jitter=0.4").jitter_brightness, (Range{0.6, 1.4}));
  EXPECT_EQ(parse_augment("color_jitter=0.4").jitter_contrast, (Range{1, 1}));  // positional, like ColorJitter(0.4)
  EXPECT_EQ(parse_augment("blur_sigma=1.5").blur_sigma, (Range{1.5, 1.5}));
  EXPECT_EQ(parse_augment("fill_mode=constant,cval=128").cval, 128);
  EXPECT_EQ(parse_augment("fill_mode=wrap").fill_mode, FillMode::Wrap);
  EXPECT_TRUE(parse_augment("random_resized_crop=true").random_resized_crop);
  EXPECT_EQ(parse_augment("random_resized_crop=true").crop_scale, (Range{0.08, 1.0}));  // torchvision defaults
  EXPECT_EQ(parse_augment("random_resized_crop=true").crop_ratio, (Range{3.0 / 4.0, 4.0 / 3.0}));
  EXPECT_TRUE(parse_augment("horizontal_flip=1").horizontal_flip);
  EXPECT_FALSE(parse_augment("keras-tutorial,horizontal_flip=off").horizontal_flip);
}

TEST(AugmentParams, ErrorsNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rotation_range=abc", "rotation_range"},   {"rotation_range=400", "rotation_range"},
      {"rotation_range=-5", "rotation_range"},    {"width_shift_range=-0.1", "width_shift_range"},
      {"shear_range=90", "shear_range"},          {"zoom_range=1.5", "zoom_range"},
      {"zoom_range=2:1", "zoom_range"},           {"zoom_range=0:1", "zoom_range"},
      {"fill_mode=mirror", "fill_mode"},          {"cval=300", "cval"},
      {"brightness_range=0.5", "brightness_range"}, {"channel_shift_range=1000", "channel_shift_range"},
      {"crop_scale=0:1", "crop_scale"},           {"crop_scale=0.5:1.5", "crop_scale"},
      {"crop_ratio=2:1", "crop_ratio"},           {"jitter_hue=0.7", "jitter_hue"},
      {"jitter_brightness=-1", "jitter_brightness"}, {"color_jitter=1:1:1:1:1", "color_jitter"},
      {"blur_probability=1.5", "blur_probability"}, {"blur_sigma=0", "blur_sigma"},
      {"noise_std=-0.1", "noise_std"},            {"horizontal_flip=maybe", "horizontal_flip"},
      {"bogus_key=1", "bogus_key"},               {"keras-tutorial,rotation_rang=10", "rotation_rang"},
      {"rotation_range=", "rotation_range"},      {"random_rotation=1e999", "random_rotation"},
  };
  for (const auto& [spec, key] : cases) {
    const std::string message = error_of(spec);
    EXPECT_NE(message, "") << spec << " was accepted";
    EXPECT_NE(message.find("'" + key + "'"), std::string::npos) << spec << " -> " << message;
  }
}

// The tutorial's whole ImageDataGenerator line pastes in: rescale=1/255 is what simple-cnn does anyway.
TEST(AugmentParams, KerasRescaleIsAcceptedOnlyAsOneOver255) {
  const auto pasted = parse_augment("rescale=1/255,rotation_range=40,width_shift_range=0.2,height_shift_range=0.2,"
                                    "shear_range=0.2,zoom_range=0.2,horizontal_flip=true,fill_mode=nearest");
  EXPECT_EQ(pasted, parse_augment("keras-tutorial"));
  EXPECT_EQ(parse_augment("rescale=1./255"), parse_augment("none"));
  EXPECT_EQ(parse_augment("rescale=0.00392156862745098"), parse_augment("none"));
  EXPECT_EQ(augment_from_json(nlohmann::json{{"rescale", 1.0 / 255}}), parse_augment("none"));
  try {
    parse_augment("rescale=2");
    FAIL() << "rescale=2 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("augment option 'rescale'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("x/255"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_augment("rescale=abc"), Error);
}

TEST(AugmentParams, UnknownPresetListsThePresets) {
  const std::string message = error_of("superstrong");
  EXPECT_NE(message.find("superstrong"), std::string::npos) << message;
  EXPECT_NE(message.find("keras-tutorial"), std::string::npos) << message;
  EXPECT_NE(error_of("vertical_flip=true,light").find("light"), std::string::npos);  // preset must come first
}

TEST(AugmentParams, JsonRoundTripsEveryPreset) {
  for (const auto& name : augment_preset_names()) {
    const AugmentParams p = augment_preset(name);
    const nlohmann::json j = to_json(p);
    EXPECT_EQ(augment_from_json(j), p) << name;
    EXPECT_EQ(augment_from_json(nlohmann::json::parse(j.dump())), p) << name;  // through text, as in the model file
    EXPECT_EQ(parse_augment(describe(p)), p) << name << ": " << describe(p);
    EXPECT_EQ(describe(p).find('\n'), std::string::npos);
    nlohmann::json via_adl = p;  // nlohmann's to_json/from_json hooks
    EXPECT_EQ(via_adl.get<AugmentParams>(), p) << name;
  }
  // Odd values survive exactly.
  const AugmentParams odd = parse_augment("rotation_range=33.3333,crop_ratio=0.1:7.77,random_resized_crop=0.123:0.456");
  EXPECT_EQ(augment_from_json(to_json(odd)), odd);
  EXPECT_EQ(parse_augment(describe(odd)), odd) << describe(odd);
}

TEST(AugmentParams, JsonAcceptsSubsetsAndPreset) {
  const AugmentParams p = augment_from_json(nlohmann::json::parse(R"({"preset": "keras-tutorial", "vertical_flip": true,
                                                                      "zoom_range": [0.9, 1.1]})"));
  AugmentParams expected = augment_preset("keras-tutorial");
  expected.vertical_flip = true;
  expected.zoom_range = Range{0.9, 1.1};
  EXPECT_EQ(p, expected);
  try {
    augment_from_json(nlohmann::json::parse(R"({"rotation_range": 10, "not_an_option": 1})"));
    ADD_FAILURE() << "unknown JSON key accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not_an_option"), std::string::npos) << e.what();
  }
}

TEST(AugmentParams, ConfigFiles) {
  TempDir dir("augment_test");
  const fs::path lines = dir.path() / "aug.txt";
  std::ofstream(lines) << "# my augmentation\nkeras-tutorial\nvertical_flip=true   # and upside down\n\n"
                          "channel_shift_range=20, cval=5\n";
  AugmentParams expected = augment_preset("keras-tutorial");
  expected.vertical_flip = true;
  expected.channel_shift_range = 20;
  expected.cval = 5;
  EXPECT_EQ(parse_augment("@" + lines.string()), expected);

  const fs::path json = dir.path() / "aug.json";
  std::ofstream(json) << to_json(expected).dump(2);
  EXPECT_EQ(parse_augment("@" + json.string()), expected);

  const fs::path bad = dir.path() / "bad.txt";
  std::ofstream(bad) << "light\nshear_range=100\n";
  const std::string message = error_of("@" + bad.string());
  EXPECT_NE(message.find(bad.string()), std::string::npos) << message;
  EXPECT_NE(message.find("shear_range"), std::string::npos) << message;

  const fs::path bad_json = dir.path() / "bad.json";
  std::ofstream(bad_json) << "{\"rotation_range\": 10,";
  EXPECT_NE(error_of("@" + bad_json.string()).find(bad_json.string()), std::string::npos);

  const std::string missing = (dir.path() / "missing.txt").string();
  EXPECT_NE(error_of("@" + missing).find(missing), std::string::npos);
}

TEST(AugmentParams, FillModesMapToTheScipyEquivalentBorders) {
  EXPECT_EQ(opencv_border_mode(FillMode::Nearest), cv::BORDER_REPLICATE);
  EXPECT_EQ(opencv_border_mode(FillMode::Constant), cv::BORDER_CONSTANT);
  EXPECT_EQ(opencv_border_mode(FillMode::Reflect), cv::BORDER_REFLECT);
  EXPECT_EQ(opencv_border_mode(FillMode::Wrap), cv::BORDER_WRAP);
  for (FillMode m : {FillMode::Nearest, FillMode::Constant, FillMode::Reflect, FillMode::Wrap})
    EXPECT_EQ(fill_mode_from_string(to_string(m)), m);
}

}  // namespace
}  // namespace imagefit

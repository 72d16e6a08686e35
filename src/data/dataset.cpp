#include "data/dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "core/random.h"
#include "data/image_io.h"

namespace imagefit {

namespace fs = std::filesystem;

std::vector<size_t> ImageSet::class_counts() const {
  std::vector<size_t> counts(classes.size(), 0);
  for (const auto& im : images) counts[im.label]++;
  return counts;
}

std::vector<std::string> list_class_folders(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (e.is_directory()) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> list_image_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (e.is_regular_file() && has_image_extension(name)) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

ImageSet scan_class_folders(const std::string& dir, bool allow_single_class) {
  if (!fs::is_directory(dir)) throw Error(dir + ": not a folder");
  ImageSet set;
  set.classes = list_class_folders(dir);
  if (set.classes.empty())
    throw Error(dir + ": no class folders (expected one sub-folder of images a class, e.g. " + dir + "/cats, " + dir +
                "/dogs)");
  if (set.classes.size() == 1 && !allow_single_class)
    throw Error(dir + ": only one class folder ('" + set.classes[0] + "'); a classifier needs at least two classes");
  for (size_t c = 0; c < set.classes.size(); ++c) {
    const std::string class_dir = (fs::path(dir) / set.classes[c]).string();
    auto files = list_image_files(class_dir);
    if (files.empty())
      throw Error(class_dir + ": empty class folder (no .jpg/.jpeg/.png/.bmp/.webp/.tif images)");
    for (auto& f : files) set.images.push_back({f, int(c)});
  }
  return set;
}

namespace {
ImageSet scan_split(const fs::path& dir, const std::vector<std::string>& classes) {
  ImageSet set = scan_class_folders(dir.string(), /*allow_single_class=*/true);
  if (set.classes != classes) {
    std::string missing, extra;
    for (auto& c : classes)
      if (std::find(set.classes.begin(), set.classes.end(), c) == set.classes.end()) missing += " " + c;
    for (auto& c : set.classes)
      if (std::find(classes.begin(), classes.end(), c) == classes.end()) extra += " " + c;
    std::string msg = dir.string() + ": class folders differ from train/";
    if (!missing.empty()) msg += "; missing:" + missing;
    if (!extra.empty()) msg += "; not in train/:" + extra;
    throw Error(msg);
  }
  return set;
}
}  // namespace

Dataset open_dataset(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error(dir + ": not a folder");
  Dataset ds;
  ds.root = dir;
  const fs::path root(dir);
  if (fs::is_directory(root / "train")) {
    ds.train = scan_class_folders((root / "train").string());
    ds.classes = ds.train.classes;
    for (const char* name : {"validation", "val", "valid"})
      if (fs::is_directory(root / name)) {
        ds.validation = scan_split(root / name, ds.classes);
        break;
      }
    if (fs::is_directory(root / "test")) ds.test = scan_split(root / "test", ds.classes);
  } else {
    ds.train = scan_class_folders(dir);
    ds.classes = ds.train.classes;
  }
  return ds;
}

std::pair<ImageSet, ImageSet> split_stratified(const ImageSet& set, double fraction, uint64_t seed) {
  if (fraction <= 0 || fraction >= 1) throw Error("split fraction must be between 0 and 1 (got " + std::to_string(fraction) + ")");
  ImageSet keep{set.classes, {}}, taken{set.classes, {}};
  for (size_t c = 0; c < set.classes.size(); ++c) {
    std::vector<LabeledImage> members;
    for (const auto& im : set.images)
      if (im.label == int(c)) members.push_back(im);
    Rng rng(mix_seed({seed, 0x5117, c}));
    std::shuffle(members.begin(), members.end(), rng);
    size_t n_take = size_t(std::llround(fraction * members.size()));
    if (members.size() >= 2) n_take = std::clamp<size_t>(n_take, 1, members.size() - 1);
    else n_take = 0;
    for (size_t i = 0; i < members.size(); ++i) (i < n_take ? taken : keep).images.push_back(members[i]);
  }
  auto by_path = [](const LabeledImage& a, const LabeledImage& b) {
    return a.label != b.label ? a.label < b.label : a.path < b.path;
  };
  std::sort(keep.images.begin(), keep.images.end(), by_path);
  std::sort(taken.images.begin(), taken.images.end(), by_path);
  return {keep, taken};
}

}  // namespace imagefit

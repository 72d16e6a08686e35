#pragma once
// A dataset is a folder of class folders (class names = folder names, sorted), or a folder with
// train/, validation/ (or val/) and test/ subfolders that each hold the same class folders.
#include <cstdint>
#include <string>
#include <vector>

namespace imagefit {

struct LabeledImage {
  std::string path;
  int label = 0;
};

struct ImageSet {
  std::vector<std::string> classes;
  std::vector<LabeledImage> images;  // sorted by class, then path
  std::vector<size_t> class_counts() const;
};

struct Dataset {
  std::string root;
  std::vector<std::string> classes;
  ImageSet train, validation, test;  // validation/test may be empty
  bool has_validation() const { return !validation.images.empty(); }
  bool has_test() const { return !test.images.empty(); }
};

// Sorted sub-folder names of `dir` (hidden ones skipped).
std::vector<std::string> list_class_folders(const std::string& dir);
// Image files directly in `dir` (by extension, case-insensitive), sorted.
std::vector<std::string> list_image_files(const std::string& dir);

// Reads a folder of class folders. Errors: not a folder, no class folders, a single class,
// an empty class folder (each names the folder).
ImageSet scan_class_folders(const std::string& dir, bool allow_single_class = false);

// Reads a dataset in either layout. A split folder must hold the same classes as train/.
Dataset open_dataset(const std::string& dir);

// Stratified, seeded split of `set`: `fraction` of each class (at least one image a class when the
// class has two or more) goes to the second result.
std::pair<ImageSet, ImageSet> split_stratified(const ImageSet& set, double fraction, uint64_t seed);

}  // namespace imagefit

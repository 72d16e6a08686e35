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

// An entry the scan could not use and left out: a symbolic link loop, a broken link, a file or
// folder without read permission. Never an exception: one bad entry must not stop a run.
struct ScanIssue {
  std::string path;
  std::string reason;
};
// Where the scan functions put their skipped entries: nullptr prints each to stderr as
// "warning: skipped PATH: REASON" (as decoding does), else they are appended to the vector.
using ScanIssues = std::vector<ScanIssue>;

struct ImageSet {
  std::vector<std::string> classes;
  std::vector<LabeledImage> images;  // sorted by class, then path
  std::vector<size_t> class_counts() const;
};

struct Dataset {
  std::string root;
  std::vector<std::string> classes;
  ImageSet train, validation, test;  // validation/test may be empty
  ScanIssues skipped;                // entries left out by the scan (already reported, see ScanIssues)
  bool has_validation() const { return !validation.images.empty(); }
  bool has_test() const { return !test.images.empty(); }
};

// Sorted sub-folder names of `dir` (hidden ones skipped; a link back to `dir` or above it is skipped
// as a loop). Error only if `dir` itself cannot be read.
std::vector<std::string> list_class_folders(const std::string& dir, ScanIssues* skipped = nullptr);
// Readable image files directly in `dir` (by extension, case-insensitive), sorted. Error only if
// `dir` itself cannot be read.
std::vector<std::string> list_image_files(const std::string& dir, ScanIssues* skipped = nullptr);
// Image files anywhere under `dir`, sorted, following folder links but visiting each folder once
// (a link loop is skipped, not followed until the path is too long).
std::vector<std::string> find_image_files(const std::string& dir, ScanIssues* skipped = nullptr);

// Reads a folder of class folders. Errors: not a folder, no class folders, a single class,
// an empty class folder, a class folder with no readable image (each names the folder).
ImageSet scan_class_folders(const std::string& dir, bool allow_single_class = false, ScanIssues* skipped = nullptr);

// The split folders of a dataset, in the order train, validation, test: {"train", DIR/train},
// {"validation", DIR/val}, ... for the split layout, or {"train", DIR} for a folder of class folders.
struct SplitFolder {
  std::string name;  // train, validation or test
  std::string path;
};
std::vector<SplitFolder> find_split_folders(const std::string& dir);

// Reads a dataset in either layout. A split folder must hold the same classes as train/.
// Skipped entries go to `skipped` (see ScanIssues) and are also kept in Dataset::skipped.
Dataset open_dataset(const std::string& dir, ScanIssues* skipped = nullptr);

// Stratified, seeded split of `set`: `fraction` of each class (at least one image a class when the
// class has two or more) goes to the second result.
std::pair<ImageSet, ImageSet> split_stratified(const ImageSet& set, double fraction, uint64_t seed);

}  // namespace imagefit

#pragma once
// `imagefit check`: one pass over a dataset that finds what makes a model look better or worse than
// it is, before any training: unreadable files, class counts and imbalance, exact and near
// duplicates within a split and across splits (train/test leakage), tiny or huge images, and odd
// formats. The scan is tolerant: what would stop `train` (an empty class, splits with different
// classes) is reported as a finding, not thrown.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"

namespace imagefit {

struct CheckOptions {
  int threads = 0;       // 0: all cores
  bool decode = true;    // false: the cheap check (no decoding: no near duplicates, sizes or pixel formats)
  int near_distance = -1;  // perceptual-hash bits (of 64) for a near duplicate; -1: kNearDuplicateDistance
  int min_side = 32;       // an image with a side shorter than this is "tiny"
  double max_megapixels = 40;  // an image with more pixels than this (millions) is "huge"
  double imbalance_ratio = 3;  // largest class / smallest class at or above this is "imbalanced"
};

// One image file of the dataset, as found by the scan.
struct CheckedFile {
  std::string path;
  int split = 0;  // index into CheckReport::splits
  int label = 0;  // index into CheckReport::classes
  uint64_t bytes = 0;
  std::string format;  // from the content: jpeg, png, gif, bmp, webp, tiff, or "unknown"
  int width = 0, height = 0;  // 0 when not known (not decoded)
  std::string error;          // why it cannot be used ("" when readable)
};

struct SplitSummary {
  std::string name;  // train, validation, test
  std::string path;
  std::vector<size_t> counts;  // images a class (of CheckReport::classes), unreadable ones excluded
  size_t images() const;
  // Largest class / smallest class (0 when a class has no image).
  double imbalance() const;
};

// Files (indices into CheckReport::files) that hold the same picture.
struct DuplicateGroup {
  std::vector<size_t> files;
  bool exact = true;  // same bytes; otherwise perceptual hashes at most `distance` bits apart
  int distance = 0;   // the largest distance between the group's files (near duplicates)
  bool across_splits = false;  // in more than one split: leakage
  bool conflicting_labels = false;  // in more than one class
};

// A finding about one file or one folder.
struct FileFinding {
  std::string kind;  // tiny, huge, extension, cmyk, 16-bit, alpha, animated, grayscale, 12-bit
  std::string path;
  std::string detail;
};

// A problem with the dataset's layout: an empty class, a class with no readable image, a split
// whose classes differ from train/, a single class, no class folders.
struct LayoutFinding {
  std::string path;
  std::string detail;
};

struct CheckReport {
  std::string root;
  std::string layout;  // "class folders" or "splits"
  std::vector<std::string> classes;  // union over the splits, sorted
  std::vector<SplitSummary> splits;
  std::vector<CheckedFile> files;
  ScanIssues skipped;  // entries the scan could not use (symbolic link loops, no permission, ...)
  std::vector<DuplicateGroup> duplicates;  // exact first, then near; leaking groups first in each
  std::vector<FileFinding> findings;
  std::vector<LayoutFinding> layout_problems;
  bool decoded = true;
  int near_distance = 0;
  double seconds = 0;
  uint64_t total_bytes = 0;

  size_t unreadable() const;  // files with an error, plus skipped entries
  size_t leaking_groups() const;
  // Problems make `imagefit check` exit 1: unreadable files or entries, leakage across splits, or a
  // layout `train` refuses. Everything else is a warning.
  bool has_problems() const;
  // One line each, for `train` to print as warnings before it starts (empty when nothing to say).
  std::vector<std::string> warning_lines(size_t max_lines = 8) const;
};

// Checks the dataset at `dir` (either layout). Throws Error only when `dir` is not a folder or
// cannot be read.
CheckReport check_dataset(const std::string& dir, const CheckOptions& options = {});

// The cheap check for `train`: on an already opened dataset, reads every file once (no decoding):
// counts, unreadable files (cannot open, empty, not an image format, truncated JPEG), exact
// duplicates and leakage across splits. About the cost of reading the files, which training's
// decode then finds in the page cache.
CheckReport quick_check(const Dataset& dataset, int threads = 0);

nlohmann::json check_report_json(const CheckReport& report);

}  // namespace imagefit

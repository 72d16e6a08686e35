#pragma once
// `imagefit split`: divides a folder of class folders into DST/train/, DST/validation/ and
// DST/test/, stratified (each class split on its own) and seeded. Planning reads SRC and checks
// DST without writing anything; executing copies, links or moves the planned files and never
// overwrites a file.
//
// Sizes (per class): a value >= 1 is a number of images, a value < 1 a fraction of the class's
// images, 0 means "no such split". The rules:
//   - no size given: validation 0.15, test 0.15, train the rest;
//   - --train not given: train gets the rest (what validation and test leave);
//   - --train given: exactly what it says; images left over stay unused (in SRC). Three fractions
//     that add up to 1 give train the rest, so rounding never leaves an image out;
//   - counts and fractions may be mixed: a fraction is always of the class's own image count,
//     a count is always a number of images.
// A fraction > 0 gives at least one image a class (so every class appears in every split).
// A class with fewer images than asked is an error naming the class, unless allow_fewer, which
// scales that class's sizes down in proportion (with a warning).
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace imagefit {

enum class SplitMode { kCopy, kSymlink, kHardlink, kMove };

// "copy", "symlink", "hardlink", "move" (and back; parse throws Error on anything else).
std::string split_mode_name(SplitMode mode);
SplitMode parse_split_mode(const std::string& name);
// Past tense for reports: "copied", "symlinked", "hard-linked", "moved".
std::string split_mode_verb(SplitMode mode);

// Split indices and the folder names they are written to.
enum SplitIndex { kTrainSplit = 0, kValidationSplit = 1, kTestSplit = 2 };
inline constexpr std::array<const char*, 3> kSplitFolderNames = {"train", "validation", "test"};

struct SplitOptions {
  std::string source;       // a folder of class folders
  std::string destination;  // receives train/, validation/, test/
  // Sizes: unset, a count (>= 1, whole) or a fraction (< 1); see the rules above.
  std::optional<double> train, validation, test;
  uint64_t seed = 0;
  SplitMode mode = SplitMode::kCopy;
  bool allow_fewer = false;  // a class with too few images gets a proportional share instead of an error
  bool force = false;        // add to a non-empty destination (identical files are skipped, different ones refused)
};

// One file to place.
struct SplitFile {
  std::string source;          // SRC/<class>/<name>
  std::string destination;     // DST/<split>/<class>/<name>
  int split = 0;               // SplitIndex
  int label = 0;               // index into SplitPlan::classes
  bool already_there = false;  // --force: the destination already holds the same content; skipped
};

struct SplitPlan {
  SplitOptions options;
  std::vector<std::string> classes;           // sorted class folder names of SRC
  std::vector<size_t> class_totals;           // images a class in SRC
  std::vector<std::array<size_t, 3>> counts;  // [class][split]
  std::vector<SplitFile> files;               // by split, class, then file name
  std::vector<std::string> warnings;          // e.g. classes scaled down by allow_fewer

  size_t split_total(int split) const;
  size_t unused(size_t label) const;  // images of the class left in SRC (an explicit --train smaller than the rest)
  size_t total_unused() const;
  size_t total_images() const;
  size_t files_to_write() const;  // files not already there
};

// Reads SRC and checks DST; writes nothing. Throws Error (naming the folder, class or file) when
// the split cannot be done: SRC missing / not class folders / an empty class folder / no images
// left (already split with move), DST not empty without force, DST inside SRC, invalid sizes, a
// class with too few images, or (force) a destination file that exists with different content.
SplitPlan plan_split(const SplitOptions& options);

struct SplitResult {
  size_t written = 0;  // files copied / linked / moved
  size_t skipped = 0;  // already there with the same content
};

// Carries out a plan. Never overwrites a file (a destination that appeared since planning is an
// error). On a failure throws Error naming the file, the reason and what was already done.
// `progress(done, total)` is called after each file when given.
SplitResult execute_split(const SplitPlan& plan,
                          const std::function<void(size_t done, size_t total)>& progress = nullptr);

}  // namespace imagefit

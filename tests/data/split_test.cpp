// The split library: sizes (fractions, counts, mixed, too few), stratification, seeding, the
// destination rules (never clobber, --force) and the four modes.
#include "data/split.h"

#include <sys/stat.h>

#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "data/image_io.h"
#include "test_files.h"
#include "test_support.h"

namespace imagefit {
namespace {

using test::file_names;
using test::make_class_folders;
using test::read_bytes;
using test::write_bytes;

SplitOptions options_for(const fs::path& src, const fs::path& dst) {
  SplitOptions o;
  o.source = src.string();
  o.destination = dst.string();
  return o;
}

size_t expected_fraction(double f, size_t total) {
  return std::max<size_t>(1, size_t(std::llround(f * double(total))));
}

// Throws-with-message helper: the Error text, or "" if nothing was thrown.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Every source image lands in exactly one split, under its own name, in its class's folder.
void expect_partition(const SplitPlan& plan) {
  std::set<std::string> sources;
  for (const auto& f : plan.files) {
    EXPECT_TRUE(sources.insert(f.source).second) << f.source << " planned twice";
    EXPECT_EQ(fs::path(f.source).filename(), fs::path(f.destination).filename());
    EXPECT_EQ(fs::path(f.source).parent_path().filename().string(), plan.classes[size_t(f.label)]);
    EXPECT_EQ(fs::path(f.destination).parent_path().filename().string(), plan.classes[size_t(f.label)]);
    EXPECT_EQ(fs::path(f.destination).parent_path().parent_path().filename().string(), kSplitFolderNames[f.split]);
  }
  EXPECT_EQ(sources.size(), plan.total_images() - plan.total_unused());
}

// The files written under DST match the plan's counts exactly.
void expect_disk_matches(const SplitPlan& plan) {
  const fs::path dst(plan.options.destination);
  for (int s = 0; s < 3; ++s) {
    if (plan.split_total(s) == 0) {
      EXPECT_FALSE(fs::exists(dst / kSplitFolderNames[s])) << "an empty split folder was created";
      continue;
    }
    for (size_t c = 0; c < plan.classes.size(); ++c)
      EXPECT_EQ(file_names(dst / kSplitFolderNames[s] / plan.classes[c]).size(), plan.counts[c][s])
          << kSplitFolderNames[s] << "/" << plan.classes[c];
  }
}

TEST(Split, DefaultIs70_15_15StratifiedPerClass) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 20}, {"b", 40}, {"c", 7}});
  const SplitPlan plan = plan_split(options_for(tmp.path() / "src", tmp.path() / "out"));
  ASSERT_EQ(plan.classes, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(plan.class_totals, (std::vector<size_t>{20, 40, 7}));
  for (size_t c = 0; c < 3; ++c) {
    const size_t total = plan.class_totals[c];
    EXPECT_EQ(plan.counts[c][kValidationSplit], expected_fraction(0.15, total));
    EXPECT_EQ(plan.counts[c][kTestSplit], expected_fraction(0.15, total));
    EXPECT_EQ(plan.counts[c][kTrainSplit] + plan.counts[c][kValidationSplit] + plan.counts[c][kTestSplit], total);
    EXPECT_EQ(plan.unused(c), 0u);
  }
  // The numbers spelled out once: 20 → 14/3/3, 7 → 5/1/1 (a fraction gives every class at least one).
  EXPECT_EQ(plan.counts[0], (std::array<size_t, 3>{14, 3, 3}));
  EXPECT_EQ(plan.counts[2], (std::array<size_t, 3>{5, 1, 1}));
  expect_partition(plan);
  EXPECT_FALSE(fs::exists(tmp.path() / "out")) << "planning must not write";

  const SplitResult r = execute_split(plan);
  EXPECT_EQ(r.written, 67u);
  EXPECT_EQ(r.skipped, 0u);
  expect_disk_matches(plan);
}

TEST(Split, FractionsThatAddUpToOneLoseNoImageToRounding) {
  TempDir tmp;
  // 0.7 * 205 = 143.5 and 0.15 * 205 = 30.75: rounding each would ask for 206.
  make_class_folders(tmp.path() / "src", {{"a", 205}, {"b", 204}, {"c", 7}});
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.train = 0.7;
  o.validation = 0.15;
  o.test = 0.15;
  const SplitPlan plan = plan_split(o);
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_EQ(plan.unused(c), 0u) << plan.classes[c];
    EXPECT_EQ(plan.counts[c][kValidationSplit], expected_fraction(0.15, plan.class_totals[c]));
    EXPECT_EQ(plan.counts[c][kTestSplit], expected_fraction(0.15, plan.class_totals[c]));
  }
  EXPECT_EQ(plan.counts[0], (std::array<size_t, 3>{143, 31, 31}));
}

TEST(Split, FractionsBelowOneLeaveTheRestUnused) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 100}, {"b", 50}});
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.train = 0.5;
  o.validation = 0.1;
  o.test = 0.1;
  const SplitPlan plan = plan_split(o);
  EXPECT_EQ(plan.counts[0], (std::array<size_t, 3>{50, 10, 10}));
  EXPECT_EQ(plan.counts[1], (std::array<size_t, 3>{25, 5, 5}));
  EXPECT_EQ(plan.unused(0), 30u);
  EXPECT_EQ(plan.unused(1), 15u);
  expect_partition(plan);
}

TEST(Split, CountsAsInTheKerasTutorial) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"cats", 30}, {"dogs", 25}});
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.train = 10;
  o.validation = 5;
  o.test = 5;
  const SplitPlan plan = plan_split(o);
  for (size_t c = 0; c < 2; ++c) EXPECT_EQ(plan.counts[c], (std::array<size_t, 3>{10, 5, 5}));
  EXPECT_EQ(plan.unused(0), 10u);
  EXPECT_EQ(plan.unused(1), 5u);
  expect_partition(plan);
  execute_split(plan);
  expect_disk_matches(plan);
  // Unused images stay in SRC and appear nowhere in DST.
  std::set<std::string> placed;
  for (const auto& f : plan.files) placed.insert(fs::path(f.source).filename().string() + "@" + plan.classes[f.label]);
  EXPECT_EQ(placed.size(), 40u);
}

TEST(Split, CountsWithoutTrainGiveTrainTheRest) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"0", 25}, {"1", 30}});
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.validation = 9;
  o.test = 1;
  const SplitPlan plan = plan_split(o);
  EXPECT_EQ(plan.counts[0], (std::array<size_t, 3>{15, 9, 1}));
  EXPECT_EQ(plan.counts[1], (std::array<size_t, 3>{20, 9, 1}));
  EXPECT_EQ(plan.total_unused(), 0u);
}

TEST(Split, CountsAndFractionsMixedFractionIsOfTheClass) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 40}, {"b", 20}});
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.validation = 0.2;
  o.test = 5;
  const SplitPlan plan = plan_split(o);
  EXPECT_EQ(plan.counts[0], (std::array<size_t, 3>{27, 8, 5}));
  EXPECT_EQ(plan.counts[1], (std::array<size_t, 3>{11, 4, 5}));
}

TEST(Split, TooFewImagesIsAnErrorNamingTheClassAndItsCount) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"big", 30}, {"small", 8}});
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.train = 10;
  o.validation = 5;
  o.test = 5;
  const std::string msg = error_of([&] { plan_split(o); });
  EXPECT_NE(msg.find("'small' has 8 images"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("'big'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--allow-fewer"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp.path() / "out"));
}

TEST(Split, AllowFewerTakesWhatThereIsInProportion) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"big", 30}, {"small", 8}});
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.train = 10;
  o.validation = 5;
  o.test = 5;
  o.allow_fewer = true;
  const SplitPlan plan = plan_split(o);
  EXPECT_EQ(plan.counts[0], (std::array<size_t, 3>{10, 5, 5}));
  EXPECT_EQ(plan.counts[1], (std::array<size_t, 3>{4, 2, 2}));  // 8 of the 20 asked, 10:5:5
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_NE(plan.warnings[0].find("'small' has 8 images"), std::string::npos) << plan.warnings[0];
  expect_partition(plan);
}

TEST(Split, CountsThatLeaveNothingForTrain) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 10}, {"b", 50}});
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.validation = 9;
  o.test = 1;
  const std::string msg = error_of([&] { plan_split(o); });
  EXPECT_NE(msg.find("'a' has 10 images"), std::string::npos) << msg;
  EXPECT_NE(msg.find("none for train"), std::string::npos) << msg;
  o.allow_fewer = true;
  const SplitPlan plan = plan_split(o);
  EXPECT_GE(plan.counts[0][kTrainSplit], 1u);
  EXPECT_EQ(plan.counts[0][0] + plan.counts[0][1] + plan.counts[0][2], 10u);
  EXPECT_EQ(plan.counts[1], (std::array<size_t, 3>{40, 9, 1}));
}

TEST(Split, InvalidSizesAreErrors) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 10}, {"b", 10}});
  auto base = options_for(tmp.path() / "src", tmp.path() / "out");
  auto with = [&](std::optional<double> train, std::optional<double> val, std::optional<double> test) {
    auto o = base;
    o.train = train;
    o.validation = val;
    o.test = test;
    return error_of([&] { plan_split(o); });
  };
  EXPECT_NE(with({}, 1.5, {}).find("whole"), std::string::npos);
  EXPECT_NE(with({}, -0.1, {}).find("--val"), std::string::npos);
  EXPECT_NE(with(0.5, 0.4, 0.3).find("add up to 1.2"), std::string::npos);
  EXPECT_NE(with({}, 0.6, 0.4).find("none for train"), std::string::npos);
  EXPECT_NE(with(0, 0, 0).find("nothing to split"), std::string::npos);
  EXPECT_EQ(with({}, 0.5, 0.3), "");
}

TEST(Split, SameSeedSameSplitAndAClassDoesNotDependOnTheOthers) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 30}, {"b", 30}});
  make_class_folders(tmp.path() / "src2", {{"a", 30}, {"aa", 12}, {"b", 30}, {"z", 5}});
  auto files_of = [](const SplitPlan& p, const std::string& cls) {
    std::vector<std::pair<int, std::string>> out;
    for (const auto& f : p.files)
      if (p.classes[f.label] == cls) out.emplace_back(f.split, fs::path(f.source).filename().string());
    return out;
  };
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.seed = 7;
  const auto first = plan_split(o), second = plan_split(o);
  EXPECT_EQ(files_of(first, "a"), files_of(second, "a"));
  EXPECT_EQ(files_of(first, "b"), files_of(second, "b"));
  // Both classes hold the same file names; the class name is part of the seed, so their splits differ.
  EXPECT_NE(files_of(first, "a"), files_of(first, "b"));

  auto other = o;
  other.seed = 8;
  EXPECT_NE(files_of(plan_split(other), "a"), files_of(first, "a"));

  auto more_classes = o;
  more_classes.source = (tmp.path() / "src2").string();
  const auto third = plan_split(more_classes);
  EXPECT_EQ(files_of(third, "a"), files_of(first, "a"));
  EXPECT_EQ(files_of(third, "b"), files_of(first, "b"));
}

TEST(Split, EmptyClassFolderIsAnErrorNamingIt) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 10}, {"b", 10}});
  fs::create_directories(tmp.path() / "src" / "empty");
  write_bytes(tmp.path() / "src" / "empty" / "notes.txt", "not an image");
  const std::string msg = error_of([&] { plan_split(options_for(tmp.path() / "src", tmp.path() / "out")); });
  EXPECT_NE(msg.find((tmp.path() / "src" / "empty").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty class folder"), std::string::npos) << msg;
}

TEST(Split, SourceErrors) {
  TempDir tmp;
  EXPECT_NE(
      error_of([&] { plan_split(options_for(tmp.path() / "missing", tmp.path() / "out")); }).find("no such folder"),
      std::string::npos);
  // An already split dataset is not a folder of classes.
  make_class_folders(tmp.path() / "done" / "train", {{"a", 3}, {"b", 3}});
  make_class_folders(tmp.path() / "done" / "validation", {{"a", 1}, {"b", 1}});
  const std::string msg = error_of([&] { plan_split(options_for(tmp.path() / "done", tmp.path() / "out")); });
  EXPECT_NE(msg.find("already split"), std::string::npos) << msg;
  // The destination inside the source would become a class folder.
  make_class_folders(tmp.path() / "src", {{"a", 5}, {"b", 5}});
  const std::string inside = error_of([&] { plan_split(options_for(tmp.path() / "src", tmp.path() / "src" / "out")); });
  EXPECT_NE(inside.find("inside the source"), std::string::npos) << inside;
  const std::string same = error_of([&] { plan_split(options_for(tmp.path() / "src", tmp.path() / "src")); });
  EXPECT_NE(same.find("inside the source"), std::string::npos) << same;
}

TEST(Split, NonEmptyDestinationIsRefusedWithoutForce) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 10}, {"b", 10}});
  write_bytes(tmp.path() / "out" / "README.txt", "mine");
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  const std::string msg = error_of([&] { plan_split(o); });
  EXPECT_NE(msg.find((tmp.path() / "out").string() + ": not empty"), std::string::npos) << msg;
  EXPECT_NE(msg.find("README.txt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--force"), std::string::npos) << msg;

  // --force adds next to what is there, and keeps it.
  o.force = true;
  const SplitPlan plan = plan_split(o);
  const SplitResult r = execute_split(plan);
  EXPECT_EQ(r.written, 20u);
  EXPECT_EQ(read_bytes(tmp.path() / "out" / "README.txt"), "mine");
  expect_disk_matches(plan);

  // Running again: every file is already there with the same content, so nothing is written.
  const SplitPlan again = plan_split(o);
  EXPECT_EQ(again.files_to_write(), 0u);
  const SplitResult r2 = execute_split(again);
  EXPECT_EQ(r2.written, 0u);
  EXPECT_EQ(r2.skipped, 20u);
}

TEST(Split, ForceNeverOverwritesADifferentFile) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 10}, {"b", 10}});
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.force = true;
  const SplitPlan plan = plan_split(o);
  // Put a different file where the plan's first file goes.
  const fs::path victim = plan.files.front().destination;
  write_bytes(victim, "precious, different content");
  const std::string msg = error_of([&] { plan_split(o); });
  EXPECT_NE(msg.find(victim.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("never"), std::string::npos) << msg;
  EXPECT_EQ(read_bytes(victim), "precious, different content");
  // Planning refused, so nothing else appeared.
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp.path() / "out")) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST(Split, ExecuteNeverClobbersAFileThatAppearedAfterPlanning) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 10}, {"b", 10}});
  for (SplitMode mode : {SplitMode::kCopy, SplitMode::kSymlink, SplitMode::kHardlink, SplitMode::kMove}) {
    SCOPED_TRACE(split_mode_name(mode));
    const fs::path out = tmp.path() / ("out-" + split_mode_name(mode));
    auto o = options_for(tmp.path() / "src", out);
    o.mode = mode;
    const SplitPlan plan = plan_split(o);
    const fs::path victim = plan.files[3].destination;  // the 4th file: three are done before it fails
    write_bytes(victim, "appeared meanwhile");
    const std::string msg = error_of([&] { execute_split(plan); });
    EXPECT_NE(msg.find(victim.string() + ": already exists"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 of 20 files were " + split_mode_verb(mode)), std::string::npos) << msg;
    EXPECT_EQ(read_bytes(victim), "appeared meanwhile");
    if (mode == SplitMode::kMove) {
      EXPECT_TRUE(fs::exists(plan.files[3].source)) << "the file that was not moved stays in SRC";
      break;  // SRC has lost three files
    }
  }
}

TEST(Split, CopyLeavesTheSourceIntact) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 10}, {"b", 10}});
  const SplitPlan plan = plan_split(options_for(tmp.path() / "src", tmp.path() / "out"));
  execute_split(plan);
  EXPECT_EQ(file_names(tmp.path() / "src" / "a").size(), 10u);
  EXPECT_EQ(file_names(tmp.path() / "src" / "b").size(), 10u);
  for (const auto& f : plan.files) {
    EXPECT_FALSE(fs::is_symlink(f.destination));
    EXPECT_EQ(read_bytes(f.destination), read_bytes(f.source));
  }
}

TEST(Split, MoveEmptiesTheSourceAndASecondRunFailsClearly) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 10}, {"b", 10}});
  std::map<std::string, std::string> content;  // file name@class → bytes
  for (const auto& cls : {"a", "b"})
    for (const auto& name : file_names(tmp.path() / "src" / cls))
      content[name + "@" + cls] = read_bytes(tmp.path() / "src" / cls / name);
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.mode = SplitMode::kMove;
  const SplitPlan plan = plan_split(o);
  EXPECT_EQ(execute_split(plan).written, 20u);
  EXPECT_TRUE(file_names(tmp.path() / "src" / "a").empty());
  EXPECT_TRUE(file_names(tmp.path() / "src" / "b").empty());
  for (const auto& f : plan.files)
    EXPECT_EQ(read_bytes(f.destination), content[fs::path(f.source).filename().string() + "@" + plan.classes[f.label]]);
  expect_disk_matches(plan);

  // A user runs the same split script again: it must refuse, not split nothing or a second time.
  const std::string not_empty = error_of([&] { plan_split(o); });
  EXPECT_NE(not_empty.find("not empty"), std::string::npos) << not_empty;
  o.force = true;
  const std::string no_images = error_of([&] { plan_split(o); });
  EXPECT_NE(no_images.find("no images left"), std::string::npos) << no_images;
  EXPECT_NE(no_images.find("--mode move"), std::string::npos) << no_images;
}

TEST(Split, HardlinkSharesTheInode) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 6}, {"b", 6}});
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.mode = SplitMode::kHardlink;
  const SplitPlan plan = plan_split(o);
  execute_split(plan);
  for (const auto& f : plan.files) {
    struct stat a {
    }, b{};
    ASSERT_EQ(::stat(f.source.c_str(), &a), 0);
    ASSERT_EQ(::lstat(f.destination.c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino) << f.destination;
    EXPECT_EQ(a.st_dev, b.st_dev);
    EXPECT_FALSE(S_ISLNK(b.st_mode));
  }
  EXPECT_EQ(file_names(tmp.path() / "src" / "a").size(), 6u);
}

TEST(Split, SymlinkPointsToTheSourceWithAnAbsolutePath) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 6}, {"b", 6}});
  // A relative SRC still gives absolute links (they keep working wherever DST is moved).
  const fs::path cwd = fs::current_path();
  fs::current_path(tmp.path());
  auto o = options_for("src", "out");
  o.mode = SplitMode::kSymlink;
  SplitPlan plan;
  try {
    plan = plan_split(o);
    execute_split(plan);
  } catch (...) {
    fs::current_path(cwd);
    throw;
  }
  for (const auto& f : plan.files) {
    const fs::path dst = tmp.path() / f.destination;
    ASSERT_TRUE(fs::is_symlink(dst)) << dst;
    const fs::path target = fs::read_symlink(dst);
    EXPECT_TRUE(target.is_absolute()) << target;
    EXPECT_EQ(target, (tmp.path() / f.source).lexically_normal());
    EXPECT_EQ(read_bytes(dst), read_bytes(target));
  }
  fs::current_path(cwd);
  // A dataset reader sees the links as images.
  EXPECT_EQ(file_names(tmp.path() / "out" / "train" / "a").size(), plan.counts[0][kTrainSplit]);
  // --force on the same plan: the links are recognised as already there.
  o.source = (tmp.path() / "src").string();
  o.destination = (tmp.path() / "out").string();
  o.force = true;
  EXPECT_EQ(plan_split(o).files_to_write(), 0u);
}

TEST(Split, ASplitOfSizeZeroIsNotCreated) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 10}, {"b", 10}});
  auto o = options_for(tmp.path() / "src", tmp.path() / "out");
  o.validation = 0.2;
  const SplitPlan plan = plan_split(o);
  EXPECT_EQ(plan.split_total(kTestSplit), 0u);
  execute_split(plan);
  EXPECT_TRUE(fs::is_directory(tmp.path() / "out" / "train" / "a"));
  EXPECT_TRUE(fs::is_directory(tmp.path() / "out" / "validation" / "b"));
  EXPECT_FALSE(fs::exists(tmp.path() / "out" / "test"));
  expect_disk_matches(plan);
}

TEST(Split, PlanningWritesNothing) {
  TempDir tmp;
  make_class_folders(tmp.path() / "src", {{"a", 10}, {"b", 10}});
  for (SplitMode mode : {SplitMode::kCopy, SplitMode::kMove}) {
    auto o = options_for(tmp.path() / "src", tmp.path() / "out");
    o.mode = mode;
    const SplitPlan plan = plan_split(o);
    EXPECT_EQ(plan.files.size(), 20u);
    EXPECT_FALSE(fs::exists(tmp.path() / "out"));
    EXPECT_EQ(file_names(tmp.path() / "src" / "a").size(), 10u);
  }
}

TEST(Split, ModeNames) {
  for (SplitMode m : {SplitMode::kCopy, SplitMode::kSymlink, SplitMode::kHardlink, SplitMode::kMove})
    EXPECT_EQ(parse_split_mode(split_mode_name(m)), m);
  EXPECT_THROW(parse_split_mode("teleport"), Error);
}

// The real hand-sign digits, 70/15/15: every image planned once, every class in every split.
TEST(Split, SignDigits70_15_15Plan) {
  IMAGEFIT_REQUIRE_SHARED("data/sign-digits");
  const fs::path src = test::shared_dir() / "data" / "sign-digits";
  TempDir tmp;
  auto o = options_for(src, tmp.path() / "out");
  o.train = 0.7;
  o.validation = 0.15;
  o.test = 0.15;
  const SplitPlan plan = plan_split(o);
  ASSERT_EQ(plan.classes.size(), 10u);
  size_t all = 0;
  for (size_t c = 0; c < plan.classes.size(); ++c) {
    // Count the class's images independently of the library.
    size_t on_disk = 0;
    for (const auto& e : fs::directory_iterator(src / plan.classes[c]))
      on_disk += has_image_extension(e.path().string());
    const auto& n = plan.counts[c];
    EXPECT_EQ(n[0] + n[1] + n[2], on_disk) << "class " << plan.classes[c];
    EXPECT_EQ(n[kValidationSplit], expected_fraction(0.15, on_disk));
    EXPECT_EQ(n[kTestSplit], expected_fraction(0.15, on_disk));
    EXPECT_NEAR(double(n[kTrainSplit]), 0.7 * double(on_disk), 1.5);
    all += on_disk;
  }
  EXPECT_EQ(plan.total_images(), all);
  EXPECT_EQ(plan.files.size(), all);
  expect_partition(plan);
  EXPECT_FALSE(fs::exists(tmp.path() / "out"));
}

}  // namespace
}  // namespace imagefit

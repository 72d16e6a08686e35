// Scanning datasets: both layouts, the val/ aliases, the errors users hit, and split_stratified.
#include "data/dataset.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "test_files.h"
#include "test_support.h"

namespace imagefit {
namespace {

using test::make_class_folders;
using test::write_bytes;

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<size_t> counts_of(const ImageSet& s) { return s.class_counts(); }

TEST(Dataset, FlatLayoutIsAllTrain) {
  TempDir tmp;
  make_class_folders(tmp.path(), {{"dogs", 3}, {"cats", 2}});
  const Dataset ds = open_dataset(tmp.path().string());
  EXPECT_EQ(ds.classes, (std::vector<std::string>{"cats", "dogs"}));  // sorted, not in creation order
  EXPECT_EQ(counts_of(ds.train), (std::vector<size_t>{2, 3}));
  EXPECT_FALSE(ds.has_validation());
  EXPECT_FALSE(ds.has_test());
  // Sorted by class, then path; labels index into classes.
  ASSERT_EQ(ds.train.images.size(), 5u);
  for (size_t i = 0; i < ds.train.images.size(); ++i) {
    const auto& im = ds.train.images[i];
    EXPECT_EQ(fs::path(im.path).parent_path().filename().string(), ds.classes[size_t(im.label)]);
    if (i > 0) {
      const auto& prev = ds.train.images[i - 1];
      EXPECT_TRUE(prev.label < im.label || (prev.label == im.label && prev.path < im.path));
    }
  }
}

TEST(Dataset, SplitLayout) {
  TempDir tmp;
  make_class_folders(tmp.path() / "train", {{"a", 5}, {"b", 4}});
  make_class_folders(tmp.path() / "validation", {{"a", 2}, {"b", 1}});
  make_class_folders(tmp.path() / "test", {{"a", 1}, {"b", 3}});
  const Dataset ds = open_dataset(tmp.path().string());
  EXPECT_EQ(ds.classes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(counts_of(ds.train), (std::vector<size_t>{5, 4}));
  ASSERT_TRUE(ds.has_validation());
  EXPECT_EQ(counts_of(ds.validation), (std::vector<size_t>{2, 1}));
  ASSERT_TRUE(ds.has_test());
  EXPECT_EQ(counts_of(ds.test), (std::vector<size_t>{1, 3}));
  for (const auto& im : ds.test.images) EXPECT_NE(im.path.find("/test/"), std::string::npos) << im.path;
}

TEST(Dataset, ValAndValidAreAliasesOfValidation) {
  for (const char* alias : {"val", "valid"}) {
    TempDir tmp;
    make_class_folders(tmp.path() / "train", {{"a", 3}, {"b", 3}});
    make_class_folders(tmp.path() / alias, {{"a", 1}, {"b", 2}});
    const Dataset ds = open_dataset(tmp.path().string());
    ASSERT_TRUE(ds.has_validation()) << alias;
    EXPECT_EQ(counts_of(ds.validation), (std::vector<size_t>{1, 2})) << alias;
    EXPECT_FALSE(ds.has_test());
  }
}

TEST(Dataset, ClassMismatchBetweenSplitsNamesTheFolder) {
  TempDir tmp;
  make_class_folders(tmp.path() / "train", {{"a", 3}, {"b", 3}});
  make_class_folders(tmp.path() / "validation", {{"a", 1}, {"c", 1}});
  const std::string msg = error_of([&] { open_dataset(tmp.path().string()); });
  EXPECT_NE(msg.find((tmp.path() / "validation").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing: b"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not in train/: c"), std::string::npos) << msg;

  TempDir tmp2;
  make_class_folders(tmp2.path() / "train", {{"a", 3}, {"b", 3}});
  make_class_folders(tmp2.path() / "test", {{"a", 1}});  // a single class is fine in a split, a missing one is not
  const std::string msg2 = error_of([&] { open_dataset(tmp2.path().string()); });
  EXPECT_NE(msg2.find((tmp2.path() / "test").string()), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("missing: b"), std::string::npos) << msg2;
}

TEST(Dataset, SingleClassIsAnError) {
  TempDir tmp;
  make_class_folders(tmp.path(), {{"only", 4}});
  const std::string msg = error_of([&] { open_dataset(tmp.path().string()); });
  EXPECT_NE(msg.find("only one class"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'only'"), std::string::npos) << msg;
  EXPECT_NO_THROW(scan_class_folders(tmp.path().string(), /*allow_single_class=*/true));
}

TEST(Dataset, EmptyClassFolderIsAnErrorNamingIt) {
  TempDir tmp;
  make_class_folders(tmp.path(), {{"a", 2}, {"b", 2}});
  fs::create_directories(tmp.path() / "c");
  write_bytes(tmp.path() / "c" / "labels.csv", "not,an,image");
  const std::string msg = error_of([&] { open_dataset(tmp.path().string()); });
  EXPECT_NE(msg.find((tmp.path() / "c").string() + ": empty class folder"), std::string::npos) << msg;
}

TEST(Dataset, NotAFolderOrNoClassFolders) {
  TempDir tmp;
  EXPECT_NE(error_of([&] { open_dataset((tmp.path() / "missing").string()); }).find("not a folder"), std::string::npos);
  write_bytes(tmp.path() / "loose.jpg", "x");
  const std::string msg = error_of([&] { open_dataset(tmp.path().string()); });
  EXPECT_NE(msg.find("no class folders"), std::string::npos) << msg;
}

TEST(Dataset, ExtensionsAreCaseInsensitive) {
  TempDir tmp;
  for (const char* name : {"a.JPG", "b.Jpeg", "c.PNG", "d.bmp", "e.webp", "f.TIFF", "g.tif"})
    write_bytes(tmp.path() / "x" / name, "x");
  for (const char* name : {"notes.txt", "h.jpg.bak", "noext", "i.gif"}) write_bytes(tmp.path() / "x" / name, "x");
  const auto files = list_image_files((tmp.path() / "x").string());
  std::vector<std::string> names;
  for (const auto& f : files) names.push_back(fs::path(f).filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"a.JPG", "b.Jpeg", "c.PNG", "d.bmp", "e.webp", "f.TIFF", "g.tif"}));
}

TEST(Dataset, HiddenFilesAndFoldersAreIgnored) {
  TempDir tmp;
  make_class_folders(tmp.path(), {{"a", 2}, {"b", 2}});
  write_bytes(tmp.path() / "a" / ".DS_Store", "mac");
  write_bytes(tmp.path() / "a" / "._img_000.png", "resource fork");  // macOS AppleDouble file
  write_bytes(tmp.path() / ".ipynb_checkpoints" / "x.png", "notebook");
  write_bytes(tmp.path() / "a" / "nested" / "deep.png", "not directly in the class folder");
  const Dataset ds = open_dataset(tmp.path().string());
  EXPECT_EQ(ds.classes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(counts_of(ds.train), (std::vector<size_t>{2, 2}));
  EXPECT_EQ(list_class_folders(tmp.path().string()), (std::vector<std::string>{"a", "b"}));
}

ImageSet small_image_set() {
  TempDir tmp;
  make_class_folders(tmp.path(), {{"a", 100}, {"b", 50}, {"c", 3}, {"d", 1}});
  return scan_class_folders(tmp.path().string());  // paths only; the files are not needed any more
}

TEST(Dataset, SplitStratifiedKeepsProportionsPerClass) {
  const ImageSet set = small_image_set();
  const auto [keep, taken] = split_stratified(set, 0.2, 42);
  EXPECT_EQ(keep.classes, set.classes);
  EXPECT_EQ(taken.classes, set.classes);
  // 20% of each class, at least one for a class of two or more, none from a class of one.
  EXPECT_EQ(counts_of(taken), (std::vector<size_t>{20, 10, 1, 0}));
  EXPECT_EQ(counts_of(keep), (std::vector<size_t>{80, 40, 2, 1}));
  // A partition of the set: nothing lost, nothing in both.
  std::set<std::string> all;
  for (const auto& im : keep.images) all.insert(im.path);
  for (const auto& im : taken.images) EXPECT_TRUE(all.insert(im.path).second) << im.path;
  EXPECT_EQ(all.size(), set.images.size());
  // Labels still match the class folder.
  for (const auto& im : taken.images)
    EXPECT_EQ(fs::path(im.path).parent_path().filename().string(), set.classes[size_t(im.label)]);
}

TEST(Dataset, SplitStratifiedIsDeterministicPerSeed) {
  const ImageSet set = small_image_set();
  auto paths = [](const ImageSet& s) {
    std::vector<std::string> out;
    for (const auto& im : s.images) out.push_back(im.path);
    return out;
  };
  const auto first = split_stratified(set, 0.3, 5);
  const auto again = split_stratified(set, 0.3, 5);
  const auto other = split_stratified(set, 0.3, 6);
  EXPECT_EQ(paths(first.second), paths(again.second));
  EXPECT_EQ(paths(first.first), paths(again.first));
  EXPECT_NE(paths(first.second), paths(other.second));
  EXPECT_EQ(counts_of(first.second), counts_of(other.second));
}

TEST(Dataset, SplitStratifiedRejectsBadFractions) {
  const ImageSet set = small_image_set();
  for (double f : {0.0, 1.0, -0.5, 1.5}) EXPECT_THROW(split_stratified(set, f, 0), Error) << f;
}

// A link to itself inside a class folder used to abort the scan (and so train) with "filesystem
// error: Too many levels of symbolic links"; now it is skipped and reported.
TEST(Dataset, SymlinkLoopInAClassFolderIsSkippedAndReported) {
  TempDir tmp;
  make_class_folders(tmp.path(), {{"a", 2}, {"b", 2}});
  fs::create_symlink("loop.png", tmp.path() / "a" / "loop.png");
  fs::create_symlink("missing.png", tmp.path() / "b" / "dangling.png");
  fs::create_symlink("..", tmp.path() / "b" / "up");  // a folder link back up: not followed by the flat scan
  ScanIssues skipped;
  Dataset ds;
  ASSERT_NO_THROW(ds = open_dataset(tmp.path().string(), &skipped));
  EXPECT_EQ(counts_of(ds.train), (std::vector<size_t>{2, 2}));
  ASSERT_EQ(skipped.size(), 2u);
  std::sort(skipped.begin(), skipped.end(), [](const ScanIssue& x, const ScanIssue& y) { return x.path < y.path; });
  EXPECT_EQ(skipped[0].path, (tmp.path() / "a" / "loop.png").string());
  EXPECT_NE(skipped[0].reason.find("symbolic link loop"), std::string::npos) << skipped[0].reason;
  EXPECT_EQ(skipped[1].path, (tmp.path() / "b" / "dangling.png").string());
  EXPECT_NE(skipped[1].reason.find("broken symbolic link"), std::string::npos) << skipped[1].reason;
  EXPECT_EQ(ds.skipped.size(), 2u);
}

TEST(Dataset, ClassFolderLinkedBackToTheRootIsALoopNotAClass) {
  TempDir tmp;
  make_class_folders(tmp.path(), {{"a", 2}, {"b", 2}});
  fs::create_symlink(".", tmp.path() / "again");
  ScanIssues skipped;
  const Dataset ds = open_dataset(tmp.path().string(), &skipped);
  EXPECT_EQ(ds.classes, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].path, (tmp.path() / "again").string());
}

TEST(Dataset, ClassWithNoReadableImageIsAnErrorNamingTheClassFolder) {
  TempDir tmp;
  make_class_folders(tmp.path(), {{"a", 2}});
  fs::create_directories(tmp.path() / "b");
  fs::create_symlink("loop.jpg", tmp.path() / "b" / "loop.jpg");
  fs::create_symlink("nowhere.jpg", tmp.path() / "b" / "gone.jpg");
  ScanIssues skipped;
  const std::string msg = error_of([&] { open_dataset(tmp.path().string(), &skipped); });
  EXPECT_NE(msg.find((tmp.path() / "b").string() + ": class folder with no readable image"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 entries skipped"), std::string::npos) << msg;
  EXPECT_EQ(skipped.size(), 2u);  // still reported, though the scan failed
}

TEST(Dataset, UnreadableFilesAndFoldersAreSkippedOrNamed) {
  if (::geteuid() == 0) GTEST_SKIP() << "skipped: running as root, so file permissions do not stop reading";
  TempDir tmp;
  make_class_folders(tmp.path(), {{"a", 2}, {"b", 2}, {"c", 1}});
  fs::permissions(tmp.path() / "a" / "img_000.png", fs::perms::none);
  ScanIssues skipped;
  {
    fs::permissions(tmp.path() / "c", fs::perms::none);
    const std::string msg = error_of([&] { open_dataset(tmp.path().string(), &skipped); });
    fs::permissions(tmp.path() / "c", fs::perms::owner_all);
    EXPECT_NE(msg.find((tmp.path() / "c").string() + ": class folder with no readable image"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Permission denied"), std::string::npos) << msg;
  }
  skipped.clear();
  const Dataset ds = open_dataset(tmp.path().string(), &skipped);
  EXPECT_EQ(counts_of(ds.train), (std::vector<size_t>{1, 2, 1}));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].path, (tmp.path() / "a" / "img_000.png").string());
  fs::permissions(tmp.path() / "a" / "img_000.png", fs::perms::owner_all);
}

// predict DIR searches recursively; a folder link back up must not send it round until the path is too long.
TEST(Dataset, FindImageFilesVisitsEachFolderOnce) {
  TempDir tmp;
  make_class_folders(tmp.path() / "x", {{"a", 2}, {"b", 1}});
  write_bytes(tmp.path() / "x" / "a" / "deeper" / "c.jpg", "x");
  fs::create_symlink("..", tmp.path() / "x" / "a" / "up");      // a cycle
  fs::create_symlink("self.jpg", tmp.path() / "x" / "self.jpg");  // a file link loop
  ScanIssues skipped;
  const auto files = find_image_files((tmp.path() / "x").string(), &skipped);
  std::vector<std::string> rel;
  for (const auto& f : files) rel.push_back(fs::relative(f, tmp.path() / "x").string());
  EXPECT_EQ(rel, (std::vector<std::string>{"a/deeper/c.jpg", "a/img_000.png", "a/img_001.png", "b/img_000.png"}));
  ASSERT_EQ(skipped.size(), 2u);
  std::set<std::string> paths;
  for (const auto& s : skipped) paths.insert(s.path);
  EXPECT_TRUE(paths.count((tmp.path() / "x" / "self.jpg").string()));
  EXPECT_TRUE(paths.count((tmp.path() / "x" / "a" / "up").string()));
}

TEST(Dataset, SignDigitsScan) {
  IMAGEFIT_REQUIRE_SHARED("data/sign-digits");
  const Dataset ds = open_dataset((test::shared_dir() / "data" / "sign-digits").string());
  ASSERT_EQ(ds.classes.size(), 10u);
  EXPECT_EQ(ds.classes.front(), "0");
  size_t total = 0;
  for (size_t n : counts_of(ds.train)) {
    EXPECT_GE(n, 200u);  // README: 204-208 a class
    total += n;
  }
  EXPECT_EQ(total, ds.train.images.size());
  EXPECT_EQ(total, 2062u);  // the README's count; the files end in upper-case .JPG
}

}  // namespace
}  // namespace imagefit

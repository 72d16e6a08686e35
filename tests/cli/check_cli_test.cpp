// `imagefit check` end to end: the built binary on small datasets of the repository's real sample
// photos with planted problems; text, --json and exit codes; symbolic link loops in check and train.
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/fs.h"
#include "test_support.h"

namespace imagefit {
namespace {

using test::imagefit_binary;
using test::run_command;

std::vector<fs::path> photos(const std::string& digit) {
  std::vector<fs::path> out;
  const fs::path dir = test::source_dir() / "data" / "sample-sign-digits" / digit;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

#define REQUIRE_BINARY_AND_SAMPLES()                                                                  \
  if (!fs::exists(imagefit_binary())) GTEST_SKIP() << "skipped: " << imagefit_binary() << " is not built"; \
  if (photos("0").size() < 6 || photos("1").size() < 6)                                                 \
  GTEST_SKIP() << "skipped: data/sample-sign-digits is missing from the repository checkout"

void put(const fs::path& from, const fs::path& to) {
  fs::create_directories(to.parent_path());
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

// train/{a,b} 3 photos each, test/{a,b} 1 photo each: distinct photos, no problems.
void make_clean(const fs::path& root) {
  const auto zeros = photos("0"), ones = photos("1");
  for (size_t i = 0; i < 3; ++i) {
    put(zeros[i], root / "train" / "a" / zeros[i].filename());
    put(ones[i], root / "train" / "b" / ones[i].filename());
  }
  put(zeros[3], root / "test" / "a" / zeros[3].filename());
  put(ones[3], root / "test" / "b" / ones[3].filename());
}

std::string check(const fs::path& root, const std::string& args = "") {
  return imagefit_binary().string() + " check " + root.string() + " " + args + " 2>&1";
}

TEST(CheckCli, CleanDatasetExitsZero) {
  REQUIRE_BINARY_AND_SAMPLES();
  TempDir tmp;
  make_clean(tmp.path());
  const auto r = run_command(check(tmp.path()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("problems: none"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("8 images"), std::string::npos) << r.output;
}

TEST(CheckCli, LeakageAndUnreadableFilesExitOneAndAreNamed) {
  REQUIRE_BINARY_AND_SAMPLES();
  TempDir tmp;
  const fs::path root = tmp.path();
  make_clean(root);
  const auto ones = photos("1");
  // Leak 1: a training photo copied byte for byte into test/.
  const fs::path leak_src = root / "train" / "a" / photos("0")[0].filename();
  const fs::path leak_copy = root / "test" / "a" / "from_train.jpg";
  put(leak_src, leak_copy);
  // Leak 2: a training photo at half size, re-saved at JPEG quality 70, in test/.
  const fs::path near_src = root / "train" / "b" / ones[1].filename();
  const fs::path near_copy = root / "test" / "b" / "smaller.jpg";
  cv::Mat img = cv::imread(near_src.string());
  cv::resize(img, img, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
  ASSERT_TRUE(cv::imwrite(near_copy.string(), img, {cv::IMWRITE_JPEG_QUALITY, 70}));
  const fs::path broken = root / "train" / "b" / "broken.png";
  {
    std::ofstream out(broken);
    out << "not a png";
  }

  const auto text = run_command(check(root));
  EXPECT_EQ(text.exit_code, 1) << text.output;
  EXPECT_NE(text.output.find("PROBLEMS"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("1 unreadable file"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find(broken.string() + ": "), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("2 pictures in more than one split"), std::string::npos) << text.output;
  for (const auto& p : {leak_src, leak_copy, near_src, near_copy})
    EXPECT_NE(text.output.find(p.string()), std::string::npos) << p << "\n" << text.output;
  // The summary comes before the listings.
  EXPECT_LT(text.output.find("PROBLEMS"), text.output.find(leak_copy.string())) << text.output;

  const auto js = run_command(imagefit_binary().string() + " check " + root.string() + " --json 2>/dev/null");
  EXPECT_EQ(js.exit_code, 1);
  const auto j = nlohmann::json::parse(js.output);
  EXPECT_EQ(j["problems"], true);
  EXPECT_EQ(j["summary"]["leaking_groups"], 2);
  ASSERT_EQ(j["unreadable"].size(), 1u);
  EXPECT_EQ(j["unreadable"][0]["path"], broken.string());
  std::set<std::set<std::string>> groups;
  for (const auto& g : j["duplicates"]) {
    EXPECT_TRUE(g["across_splits"].get<bool>());
    std::set<std::string> paths;
    for (const auto& f : g["files"]) paths.insert(f["path"].get<std::string>());
    groups.insert(paths);
  }
  EXPECT_EQ(groups, (std::set<std::set<std::string>>{{leak_src.string(), leak_copy.string()}, {near_src.string(), near_copy.string()}}));
  EXPECT_EQ(j["splits"][0]["counts"]["b"], 3);  // the broken file is not counted

  // --quick reads bytes only: the identical copy leaks, the re-encoded one needs decoding.
  const auto quick = run_command(imagefit_binary().string() + " check " + root.string() + " --quick --json 2>/dev/null");
  EXPECT_EQ(quick.exit_code, 1);
  const auto q = nlohmann::json::parse(quick.output);
  EXPECT_EQ(q["summary"]["leaking_groups"], 1);
  EXPECT_EQ(q["decoded"], false);
}

TEST(CheckCli, SymlinkLoopIsReportedNotACrash) {
  REQUIRE_BINARY_AND_SAMPLES();
  TempDir tmp;
  make_clean(tmp.path());
  const fs::path loop = tmp.path() / "train" / "a" / "loop.jpg";
  fs::create_symlink("loop.jpg", loop);
  fs::create_symlink("..", tmp.path() / "train" / "b" / "up");
  const auto r = run_command(check(tmp.path()));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.find("filesystem error"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(loop.string() + ": symbolic link loop"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("8 images"), std::string::npos) << r.output;
}

// train's scan: a loop is skipped with a warning; a class left with no readable image is an error
// naming the class folder, before any training work.
TEST(CheckCli, TrainSurvivesALoopButRefusesAClassWithNoReadableImage) {
  REQUIRE_BINARY_AND_SAMPLES();
  TempDir tmp;
  const fs::path data = tmp.path() / "data";
  put(photos("0")[0], data / "a" / "x.jpg");
  put(photos("0")[1], data / "a" / "y.jpg");
  fs::create_directories(data / "b");
  fs::create_symlink("loop.jpg", data / "b" / "loop.jpg");
  const auto r = run_command(imagefit_binary().string() + " train " + data.string() + " -o " + (tmp.path() / "m.imagefit").string() +
                             " --arch simple-cnn --image-size 32 --epochs 1 2>&1");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("filesystem error"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find((data / "b").string() + ": class folder with no readable image"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp.path() / "m.imagefit"));
}

TEST(CheckCli, HelpDocumentsTheExitCode) {
  if (!fs::exists(imagefit_binary())) GTEST_SKIP() << "skipped: " << imagefit_binary() << " is not built";
  const auto r = run_command(imagefit_binary().string() + " check --help 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Exit code"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("leakage"), std::string::npos) << r.output;
}

TEST(CheckCli, BadOptionValueIsAnErrorNamingIt) {
  if (!fs::exists(imagefit_binary())) GTEST_SKIP() << "skipped: " << imagefit_binary() << " is not built";
  TempDir tmp;
  const auto r = run_command(imagefit_binary().string() + " check " + tmp.path().string() + " --near-distance 99 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--near-distance"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace imagefit

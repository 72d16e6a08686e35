// `imagefit check` as a library: the hashes, and check_dataset / quick_check on small datasets built
// here from the repository's real sample photos, with duplicates, leaks and broken files planted by
// the test (so the expected findings are known independently of the code under test).
#include "data/check.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "data/image_hash.h"
#include "test_files.h"
#include "test_support.h"

namespace imagefit {
namespace {

using test::read_bytes;
using test::write_bytes;

// The sample photos of one class of data/sample-sign-digits (100x100 JPEGs), sorted.
std::vector<fs::path> sample_photos(const std::string& digit) {
  std::vector<fs::path> out;
  const fs::path dir = test::source_dir() / "data" / "sample-sign-digits" / digit;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

#define REQUIRE_SAMPLES()                                                                      \
  if (sample_photos("0").size() < 10 || sample_photos("1").size() < 10)                        \
  GTEST_SKIP() << "skipped: data/sample-sign-digits is missing from the repository checkout"

void copy_to(const fs::path& from, const fs::path& to) {
  fs::create_directories(to.parent_path());
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

// `from` resized by `scale` and re-encoded as JPEG at `quality`: the same picture, other bytes.
void recompressed(const fs::path& from, const fs::path& to, double scale, int quality) {
  cv::Mat img = cv::imread(from.string());
  ASSERT_FALSE(img.empty()) << from;
  cv::resize(img, img, cv::Size(), scale, scale, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  fs::create_directories(to.parent_path());
  ASSERT_TRUE(cv::imwrite(to.string(), img, {cv::IMWRITE_JPEG_QUALITY, quality}));
}

uint64_t phash_of(const cv::Mat& bgr) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return perceptual_hash(rgb);
}

cv::Mat reencode(const cv::Mat& img, double scale, int quality) {
  cv::Mat small;
  cv::resize(img, small, cv::Size(), scale, scale, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  std::vector<unsigned char> buf;
  cv::imencode(".jpg", small, buf, {cv::IMWRITE_JPEG_QUALITY, quality});
  return cv::imdecode(buf, cv::IMREAD_COLOR);
}

TEST(ImageHash, ContentHashIsXxh64) {
  // Reference values of XXH64 (seed 0): the empty input, the short-input paths, and a 39-byte input
  // that goes through the 32-byte stripes (python-xxhash's README example).
  EXPECT_EQ(content_hash("", 0), 0xEF46DB3751D8E999ull);
  EXPECT_EQ(content_hash("a", 1), 0xD24EC4F1A98C6E5Bull);
  EXPECT_EQ(content_hash("abc", 3), 0x44BC2CF5AD770999ull);
  const std::string spam = "Nobody inspects the spammish repetition";
  EXPECT_EQ(content_hash(spam.data(), spam.size()), 0xFBCEA83C8A378BF1ull);
}

PictureSignature signature_of(const cv::Mat& bgr) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return picture_signature(rgb);
}

// The thresholds' evidence (image_hash.h): every sample photo resized (down and up) and saved at
// JPEG quality 70 is still a near duplicate of itself, and no two distinct photos are, though many
// pairs are close in the perceptual hash alone (hands on the same white background).
TEST(ImageHash, NearDuplicatesSurviveResizeAndJpegRecompression) {
  REQUIRE_SAMPLES();
  std::vector<PictureSignature> originals;
  std::vector<fs::path> photos;
  int worst_bits = 0;
  float worst_thumb = 0;
  for (const char* d : {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"})
    for (const auto& p : sample_photos(d)) photos.push_back(p);
  for (const auto& p : photos) {
    const cv::Mat img = cv::imread(p.string());
    ASSERT_FALSE(img.empty()) << p;
    originals.push_back(signature_of(img));
    for (double scale : {0.5, 0.37, 2.0}) {
      const PictureSignature copy = signature_of(reencode(img, scale, 70));
      worst_bits = std::max(worst_bits, hamming_distance(originals.back().phash, copy.phash));
      worst_thumb = std::max(worst_thumb, thumbnail_distance(originals.back(), copy));
      EXPECT_TRUE(near_duplicates(originals.back(), copy)) << p << " resized " << scale << " at JPEG quality 70";
    }
  }
  size_t pairs = 0, hash_close = 0, near = 0;
  for (size_t a = 0; a < originals.size(); ++a)
    for (size_t b = a + 1; b < originals.size(); ++b) {
      ++pairs;
      hash_close += hamming_distance(originals[a].phash, originals[b].phash) <= kNearDuplicateDistance;
      near += near_duplicates(originals[a], originals[b]);
    }
  std::printf("%zu photos resized + JPEG q70: at most %d bits and thumbnail distance %.3f; distinct pairs: %zu of %zu within %d bits, "
              "%zu near duplicates\n",
              photos.size(), worst_bits, worst_thumb, hash_close, pairs, kNearDuplicateDistance, near);
  EXPECT_EQ(near, 0u) << "distinct photos taken for near duplicates";
}

TEST(ImageHash, PerceptualHashIgnoresChannelCountAndSize) {
  REQUIRE_SAMPLES();
  const cv::Mat img = cv::imread(sample_photos("3")[0].string());
  cv::Mat grey, big;
  cv::cvtColor(img, grey, cv::COLOR_BGR2GRAY);
  cv::resize(img, big, cv::Size(640, 640), 0, 0, cv::INTER_CUBIC);
  EXPECT_LE(hamming_distance(phash_of(img), perceptual_hash(grey)), 2);
  EXPECT_LE(hamming_distance(phash_of(img), phash_of(big)), kNearDuplicateDistance);
}

// A split dataset with planted problems. Returns the paths the test will look for.
struct Planted {
  fs::path exact_leak_train, exact_leak_test;
  fs::path near_leak_train, near_leak_validation;
  fs::path label_a, label_b;  // the same bytes in classes a and b of train
  fs::path broken, cut, tiny, png_named_jpg, alpha, deep;
};

Planted make_fixture(const fs::path& root) {
  const auto zeros = sample_photos("0"), ones = sample_photos("1");
  Planted p;
  for (int i = 0; i < 3; ++i) {
    copy_to(zeros[size_t(i)], root / "train" / "a" / zeros[size_t(i)].filename());
    copy_to(ones[size_t(i)], root / "train" / "b" / ones[size_t(i)].filename());
  }
  copy_to(zeros[3], root / "validation" / "a" / zeros[3].filename());
  copy_to(ones[3], root / "validation" / "b" / ones[3].filename());
  copy_to(zeros[4], root / "test" / "a" / zeros[4].filename());
  copy_to(ones[4], root / "test" / "b" / ones[4].filename());

  p.exact_leak_train = root / "train" / "a" / zeros[0].filename();
  p.exact_leak_test = root / "test" / "a" / "copy_of_train_photo.jpg";
  copy_to(p.exact_leak_train, p.exact_leak_test);
  p.near_leak_train = root / "train" / "b" / ones[1].filename();
  p.near_leak_validation = root / "validation" / "b" / "smaller_q70.jpg";
  recompressed(p.near_leak_train, p.near_leak_validation, 0.5, 70);
  p.label_a = root / "train" / "a" / zeros[2].filename();
  p.label_b = root / "train" / "b" / "mislabelled.jpg";
  copy_to(p.label_a, p.label_b);

  p.broken = root / "train" / "a" / "notes.jpg";
  write_bytes(p.broken, "this is text, not a picture");
  p.cut = root / "train" / "a" / "cut.jpg";
  const std::string jpeg = read_bytes(zeros[5]);
  write_bytes(p.cut, jpeg.substr(0, jpeg.size() / 2));  // a download that stopped half way
  p.tiny = root / "train" / "b" / "tiny.png";
  cv::Mat small;
  cv::resize(cv::imread(ones[6].string()), small, cv::Size(16, 16), 0, 0, cv::INTER_AREA);
  cv::imwrite(p.tiny.string(), small);
  p.png_named_jpg = root / "train" / "a" / "really_a_png.jpg";
  std::vector<unsigned char> png;
  cv::imencode(".png", cv::imread(zeros[7].string()), png);
  write_bytes(p.png_named_jpg, std::string(png.begin(), png.end()));
  p.alpha = root / "train" / "b" / "alpha.png";
  cv::Mat bgra;
  cv::cvtColor(cv::imread(ones[8].string()), bgra, cv::COLOR_BGR2BGRA);
  cv::imwrite(p.alpha.string(), bgra);
  p.deep = root / "train" / "a" / "deep.png";
  cv::Mat deep;
  cv::imread(zeros[9].string()).convertTo(deep, CV_16UC3, 257.0);
  cv::imwrite(p.deep.string(), deep);
  return p;
}

std::set<std::string> paths_of(const CheckReport& r, const DuplicateGroup& g) {
  std::set<std::string> out;
  for (size_t k : g.files) out.insert(r.files[k].path);
  return out;
}

const FileFinding* finding(const CheckReport& r, const std::string& kind, const fs::path& path) {
  for (const auto& f : r.findings)
    if (f.kind == kind && f.path == path.string()) return &f;
  return nullptr;
}

TEST(Check, FindsPlantedDuplicatesLeaksAndBrokenFiles) {
  REQUIRE_SAMPLES();
  TempDir tmp;
  const fs::path root = tmp.path() / "data";
  const Planted p = make_fixture(root);
  CheckOptions o;
  o.threads = 2;
  const CheckReport r = check_dataset(root.string(), o);

  EXPECT_EQ(r.layout, "splits");
  EXPECT_EQ(r.classes, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(r.splits.size(), 3u);
  EXPECT_EQ(r.splits[0].name, "train");
  EXPECT_EQ(r.splits[1].name, "validation");
  EXPECT_EQ(r.splits[2].name, "test");
  // Readable images a class: train a = 3 photos + the PNG named .jpg + the 16-bit PNG (the text file
  // and the cut JPEG do not count); train b = 3 + the mislabelled copy + tiny + alpha.
  EXPECT_EQ(r.splits[0].counts, (std::vector<size_t>{5, 6}));
  EXPECT_EQ(r.splits[1].counts, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(r.splits[2].counts, (std::vector<size_t>{2, 1}));

  std::set<std::string> unreadable;
  for (const auto& f : r.files)
    if (!f.error.empty()) unreadable.insert(f.path);
  EXPECT_EQ(unreadable, (std::set<std::string>{p.broken.string(), p.cut.string()}));
  for (const auto& f : r.files)
    if (f.path == p.cut.string()) EXPECT_NE(f.error.find("truncated"), std::string::npos) << f.error;

  // Exactly the three planted groups, nothing between the other (distinct) photos.
  ASSERT_EQ(r.duplicates.size(), 3u);
  const DuplicateGroup* exact_leak = nullptr;
  const DuplicateGroup* near_leak = nullptr;
  const DuplicateGroup* mislabelled = nullptr;
  for (const auto& g : r.duplicates) {
    const auto paths = paths_of(r, g);
    if (paths == std::set<std::string>{p.exact_leak_train.string(), p.exact_leak_test.string()}) exact_leak = &g;
    if (paths == std::set<std::string>{p.near_leak_train.string(), p.near_leak_validation.string()}) near_leak = &g;
    if (paths == std::set<std::string>{p.label_a.string(), p.label_b.string()}) mislabelled = &g;
  }
  ASSERT_TRUE(exact_leak && near_leak && mislabelled);
  EXPECT_TRUE(exact_leak->exact);
  EXPECT_TRUE(exact_leak->across_splits);
  EXPECT_FALSE(exact_leak->conflicting_labels);
  EXPECT_FALSE(near_leak->exact);
  EXPECT_TRUE(near_leak->across_splits);
  EXPECT_LE(near_leak->distance, kNearDuplicateDistance);
  EXPECT_TRUE(mislabelled->exact);
  EXPECT_FALSE(mislabelled->across_splits);
  EXPECT_TRUE(mislabelled->conflicting_labels);
  EXPECT_EQ(r.leaking_groups(), 2u);

  EXPECT_TRUE(finding(r, "tiny", p.tiny)) << "16x16 is under the 32-pixel default";
  EXPECT_TRUE(finding(r, "extension", p.png_named_jpg));
  EXPECT_TRUE(finding(r, "alpha", p.alpha));
  EXPECT_TRUE(finding(r, "16-bit", p.deep));
  EXPECT_FALSE(finding(r, "tiny", p.exact_leak_train)) << "100x100 is not tiny";
  EXPECT_TRUE(r.has_problems());
  EXPECT_TRUE(r.layout_problems.empty());

  const auto j = check_report_json(r);
  EXPECT_EQ(j["summary"]["leaking_groups"], 2);
  EXPECT_EQ(j["summary"]["unreadable"], 2);
  EXPECT_EQ(j["splits"][0]["counts"]["b"], 6);
}

TEST(Check, CleanDatasetHasNoProblems) {
  REQUIRE_SAMPLES();
  TempDir tmp;
  for (const char* d : {"2", "5", "7"})
    for (const auto& photo : sample_photos(d)) copy_to(photo, tmp.path() / (std::string("digit") + d) / photo.filename());
  const CheckReport r = check_dataset(tmp.path().string());
  EXPECT_EQ(r.layout, "class folders");
  ASSERT_EQ(r.splits.size(), 1u);
  EXPECT_EQ(r.splits[0].counts, (std::vector<size_t>{sample_photos("2").size(), sample_photos("5").size(), sample_photos("7").size()}));
  EXPECT_FALSE(r.has_problems());
  EXPECT_EQ(r.unreadable(), 0u);
  EXPECT_TRUE(r.duplicates.empty()) << r.duplicates.size() << " groups among distinct photos";
  EXPECT_TRUE(r.warning_lines().empty());
}

TEST(Check, QuickCheckReadsWithoutDecoding) {
  REQUIRE_SAMPLES();
  TempDir tmp;
  const fs::path root = tmp.path() / "data";
  const Planted p = make_fixture(root);
  const Dataset ds = open_dataset(root.string());
  const CheckReport r = quick_check(ds, 2);
  EXPECT_FALSE(r.decoded);
  // Found from the bytes alone: the text file, the exact copies. The cut JPEG needs a decoder, and the
  // near duplicate a decoded picture.
  std::set<std::string> unreadable;
  for (const auto& f : r.files)
    if (!f.error.empty()) unreadable.insert(f.path);
  EXPECT_EQ(unreadable, std::set<std::string>{p.broken.string()});
  ASSERT_EQ(r.duplicates.size(), 2u);
  EXPECT_EQ(r.leaking_groups(), 1u);
  for (const auto& g : r.duplicates) EXPECT_TRUE(g.exact);
  const auto lines = r.warning_lines();
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  EXPECT_NE(all.find("leakage"), std::string::npos) << all;
  EXPECT_NE(all.find(p.exact_leak_test.string()), std::string::npos) << all;
  EXPECT_NE(all.find(p.broken.string()), std::string::npos) << all;
  EXPECT_NE(all.find("different labels"), std::string::npos) << all;
}

TEST(Check, LayoutProblemsAndLinkLoopsAreReportedNotThrown) {
  REQUIRE_SAMPLES();
  TempDir tmp;
  const fs::path root = tmp.path();
  const auto zeros = sample_photos("0"), ones = sample_photos("1");
  copy_to(zeros[0], root / "train" / "a" / "x.jpg");
  copy_to(ones[0], root / "train" / "b" / "y.jpg");
  copy_to(zeros[1], root / "test" / "a" / "z.jpg");
  fs::create_directories(root / "test" / "b");  // empty class folder: train would refuse
  fs::create_symlink("loop.jpg", root / "train" / "a" / "loop.jpg");  // a link to itself
  const CheckReport r = check_dataset(root.string());
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_EQ(r.skipped[0].path, (root / "train" / "a" / "loop.jpg").string());
  EXPECT_NE(r.skipped[0].reason.find("symbolic link loop"), std::string::npos) << r.skipped[0].reason;
  ASSERT_EQ(r.layout_problems.size(), 1u);
  EXPECT_EQ(r.layout_problems[0].path, (root / "test" / "b").string());
  EXPECT_TRUE(r.has_problems());
  EXPECT_EQ(r.splits[0].counts, (std::vector<size_t>{1, 1}));
}

TEST(Check, NotAFolderIsAnError) {
  TempDir tmp;
  EXPECT_THROW(check_dataset((tmp.path() / "missing").string()), Error);
}

}  // namespace
}  // namespace imagefit

// `imagefit split` end to end: the built binary on a synthetic dataset of tiny PNG files.
#include <cstdint>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/fs.h"
#include "test_support.h"

namespace imagefit {
namespace {

using test::imagefit_binary;
using test::run_command;

// A valid w×h RGB PNG (stored, uncompressed deflate), so the tests need no image library.
std::string tiny_png(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  auto crc32 = [](const std::string& data) {
    uint32_t c = 0xFFFFFFFFu;
    for (unsigned char byte : data) {
      c ^= byte;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
  };
  auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  auto chunk = [&](const std::string& type, const std::string& data) {
    return be32(uint32_t(data.size())) + type + data + be32(crc32(type + data));
  };
  std::string raw;
  for (int y = 0; y < h; ++y) {
    raw += char(0);  // filter: none
    for (int x = 0; x < w; ++x) raw += std::string{char(r), char(g), char(b)};
  }
  uint32_t a = 1, s2 = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    s2 = (s2 + a) % 65521;
  }
  const uint16_t len = uint16_t(raw.size());
  std::string zlib = {char(0x78),
                      char(0x01),
                      char(0x01),
                      char(len & 0xFF),
                      char(len >> 8),
                      char(~len & 0xFF),
                      char((~len >> 8) & 0xFF)};
  zlib += raw + be32((s2 << 16) | a);
  const std::string ihdr = be32(uint32_t(w)) + be32(uint32_t(h)) + std::string{8, 2, 0, 0, 0};
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", zlib) + chunk("IEND", "");
}

// root/<class>/<class>.<i>.png, each a distinct colour.
void make_png_dataset(const fs::path& root, const std::map<std::string, int>& classes) {
  int k = 0;
  for (const auto& [name, count] : classes) {
    fs::create_directories(root / name);
    for (int i = 0; i < count; ++i, ++k) {
      std::ofstream out(root / name / (name + "." + std::to_string(i) + ".png"), std::ios::binary);
      out << tiny_png(4, 3, uint8_t(k * 7), uint8_t(255 - k), uint8_t(i * 13));
    }
  }
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::string split_cmd(const std::string& args) { return q(imagefit_binary()) + " split " + args; }

size_t count_files(const fs::path& dir) {
  if (!fs::is_directory(dir)) return 0;
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

// Relative paths of all files under `root`, sorted.
std::set<std::string> tree(const fs::path& root) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out.insert(fs::relative(e.path(), root).string());
  return out;
}

// The JSON object of a --json run (stdout; warnings go to stderr, which run_command merges in
// front of it only when there are any).
nlohmann::json parse_json_output(const std::string& output) {
  const auto start = output.find('{');
  if (start == std::string::npos) throw std::runtime_error("no JSON in: " + output);
  return nlohmann::json::parse(output.substr(start));
}

class SplitCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(imagefit_binary())) GTEST_SKIP() << "skipped: the imagefit binary is not built";
    make_png_dataset(tmp_.path() / "src", {{"cats", 10}, {"dogs", 7}});
  }
  fs::path src() const { return tmp_.path() / "src"; }
  fs::path dir(const std::string& name) const { return tmp_.path() / name; }
  TempDir tmp_;
};

TEST_F(SplitCli, HelpExplainsSizesAndModes) {
  const auto r = run_command(split_cmd("--help"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* s : {"--train", "--val", "--test", "--seed", "--mode", "--allow-fewer", "--force", "--dry-run",
                        "--json", "Examples", "symlink", "hardlink", "move"})
    EXPECT_NE(r.output.find(s), std::string::npos) << "--help lacks " << s << ":\n" << r.output;
  // The top-level help lists the command.
  const auto top = run_command(q(imagefit_binary()) + " --help");
  EXPECT_NE(top.output.find("split"), std::string::npos) << top.output;
}

TEST_F(SplitCli, JsonCountsMatchTheFilesWritten) {
  const auto r = run_command(split_cmd(q(src()) + " " + q(dir("out")) + " --json --seed 3"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = parse_json_output(r.output);
  EXPECT_EQ(j["classes"], nlohmann::json({"cats", "dogs"}));
  EXPECT_EQ(j["totals"]["images"], 17);
  EXPECT_EQ(j["images"]["cats"], 10);
  EXPECT_EQ(j["written"], 17);
  EXPECT_EQ(j["dry_run"], false);
  EXPECT_EQ(j["mode"], "copy");
  // Default 70/15/15: 15% of 10 is 1.5 → 2, of 7 is 1.05 → 1.
  EXPECT_EQ(j["counts"]["validation"]["cats"], 2);
  EXPECT_EQ(j["counts"]["test"]["dogs"], 1);
  size_t sum = 0;
  for (const char* split : {"train", "validation", "test"})
    for (const char* cls : {"cats", "dogs"}) {
      const size_t n = j["counts"][split][cls];
      EXPECT_EQ(count_files(dir("out") / split / cls), n) << split << "/" << cls;
      sum += n;
    }
  EXPECT_EQ(sum, 17u);
  EXPECT_EQ(tree(src()).size(), 17u) << "copy leaves SRC as it was";
}

TEST_F(SplitCli, TableAndSummary) {
  const auto r = run_command(split_cmd(q(src()) + " " + q(dir("out")) + " --train 4 --val 2 --test 1 --mode hardlink"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("class"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unused"), std::string::npos) << r.output;  // 10 - 7 cats stay in SRC
  EXPECT_NE(r.output.find("hard-linked 14 files"), std::string::npos) << r.output;
  EXPECT_EQ(count_files(dir("out") / "train" / "dogs"), 4u);
  EXPECT_EQ(count_files(dir("out") / "test" / "cats"), 1u);
}

TEST_F(SplitCli, DryRunWritesNothing) {
  const auto r = run_command(split_cmd(q(src()) + " " + q(dir("out")) + " --dry-run --mode move"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("dry run"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir("out")));
  EXPECT_EQ(tree(src()).size(), 17u);
  const auto j = run_command(split_cmd(q(src()) + " " + q(dir("out")) + " --dry-run --json"));
  ASSERT_EQ(j.exit_code, 0) << j.output;
  const auto parsed = parse_json_output(j.output);
  EXPECT_EQ(parsed["dry_run"], true);
  EXPECT_EQ(parsed["written"], 0);
  EXPECT_EQ(parsed["planned"], 17);
  EXPECT_FALSE(fs::exists(dir("out")));
}

TEST_F(SplitCli, SameSeedSameSplit) {
  for (const char* out : {"a", "b"})
    ASSERT_EQ(run_command(split_cmd(q(src()) + " " + q(dir(out)) + " --seed 11")).exit_code, 0);
  ASSERT_EQ(run_command(split_cmd(q(src()) + " " + q(dir("c")) + " --seed 12")).exit_code, 0);
  EXPECT_EQ(tree(dir("a")), tree(dir("b")));
  EXPECT_NE(tree(dir("a")), tree(dir("c")));
  EXPECT_EQ(tree(dir("c")).size(), 17u);
}

TEST_F(SplitCli, ErrorsExitNonZeroWithAMessage) {
  fs::create_directories(dir("full"));
  std::ofstream(dir("full") / "keep.txt") << "x";
  auto r = run_command(split_cmd(q(src()) + " " + q(dir("full"))));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("not empty"), std::string::npos) << r.output;

  r = run_command(split_cmd(q(src()) + " " + q(dir("out")) + " --train 4 --val 2 --test 1"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_command(split_cmd(q(src()) + " " + q(dir("out2")) + " --train 5 --val 3 --test 1"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("'dogs' has 7 images"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir("out2")));
  r = run_command(split_cmd(q(src()) + " " + q(dir("out2")) + " --train 5 --val 3 --test 1 --allow-fewer --json"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning"), std::string::npos) << r.output;

  r = run_command(split_cmd(q(src()) + " " + q(dir("out3")) + " --mode teleport"));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(dir("out3")));
  r = run_command(split_cmd(q(dir("nowhere")) + " " + q(dir("out3"))));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no such folder"), std::string::npos) << r.output;
}

// A user who splits with --mode move once; running the same command again must refuse.
TEST_F(SplitCli, MoveThenRunAgainFails) {
  const std::string cmd = split_cmd(q(src()) + " " + q(dir("out")) + " --val 2 --test 1 --mode move");
  auto r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("moved 17 files"), std::string::npos) << r.output;
  EXPECT_TRUE(tree(src()).empty());
  EXPECT_EQ(tree(dir("out")).size(), 17u);

  r = run_command(cmd);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("not empty"), std::string::npos) << r.output;
  r = run_command(cmd + " --force");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no images left"), std::string::npos) << r.output;
  EXPECT_EQ(tree(dir("out")).size(), 17u);
}

TEST(SplitCliShared, SignDigits70_15_15DryRun) {
  IMAGEFIT_REQUIRE_SHARED("data/sign-digits");
  if (!fs::exists(imagefit_binary())) GTEST_SKIP() << "skipped: the imagefit binary is not built";
  const fs::path src = test::shared_dir() / "data" / "sign-digits";
  TempDir tmp;
  const auto r = run_command(
      split_cmd(q(src) + " " + q(tmp.path() / "out") + " --train 0.7 --val 0.15 --test 0.15 --dry-run --json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = parse_json_output(r.output);
  ASSERT_EQ(j["classes"].size(), 10u);
  size_t all = 0;
  for (const auto& cls : j["classes"]) {
    const std::string name = cls;
    size_t on_disk = 0;
    for (const auto& e : fs::directory_iterator(src / name)) {
      const std::string ext = lower_extension(e.path());
      on_disk += e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png");
    }
    const size_t train = j["counts"]["train"][name], val = j["counts"]["validation"][name],
                 test = j["counts"]["test"][name];
    EXPECT_EQ(train + val + test, on_disk) << "class " << name;
    EXPECT_NEAR(double(val), 0.15 * double(on_disk), 1.0) << name;
    EXPECT_NEAR(double(test), 0.15 * double(on_disk), 1.0) << name;
    all += on_disk;
  }
  EXPECT_EQ(j["totals"]["images"], all);
  EXPECT_EQ(size_t(j["totals"]["train"]) + size_t(j["totals"]["validation"]) + size_t(j["totals"]["test"]), all);
  EXPECT_FALSE(fs::exists(tmp.path() / "out"));
}

}  // namespace
}  // namespace imagefit

// The `imagefit serve` page in headless Chromium, driven by Playwright (tests/serve/browser_check.js):
// a person picks (and drops) an image and the page shows the label `imagefit predict` gives for the
// same file, with bars for the top classes. Screenshots stay in <build>/test-artifacts/.
// Needs /usr/bin/chromium, node and npm; playwright-core is installed into <build>/test-deps/node by
// tests/serve/install_browser_deps.sh on first use. Skips with a message when one is missing.
#include <algorithm>
#include <cmath>

#include <opencv2/imgcodecs.hpp>

#include "core/fs.h"
#include "serve_test_util.h"
#include "test_support.h"

namespace imagefit {
namespace {

using json = nlohmann::json;
using test::ChildProcess;

const char* kChromium = "/usr/bin/chromium";

std::string bin() { return test::imagefit_binary().string(); }
std::string q(const fs::path& p) {
  std::string out = "'";
  for (char c : p.string()) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The last line of the output that parses as a JSON object.
json last_json_line(const std::string& out) {
  std::istringstream in(out);
  std::string line;
  json found;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') {
      json j = json::parse(line, nullptr, false);
      if (!j.is_discarded()) found = j;
    }
  return found;
}

class ServeBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kChromium))
      GTEST_SKIP() << "skipped: " << kChromium << " is not installed (scripts/setup.sh --test installs chromium)";
    if (test::run_command("command -v node && command -v npm").exit_code != 0)
      GTEST_SKIP() << "skipped: node and npm are not installed (apt-get install nodejs npm)";
    deps_ = test::serve_artifacts_dir().parent_path() / "test-deps" / "node";
    // Quick when the pinned version is already there.
    auto r = test::run_command(q(test::source_dir() / "tests/serve/install_browser_deps.sh") + " " + q(deps_));
    if (r.exit_code != 0)
      GTEST_SKIP() << "skipped: could not install playwright-core with npm (offline?); run "
                      "tests/serve/install_browser_deps.sh "
                   << deps_ << "\n" << r.output;
    auto help = test::run_command(bin() + " serve --help");
    ASSERT_EQ(help.exit_code, 0) << "the imagefit binary has no 'serve' command: src/cli/main.cpp must call "
                                    "add_serve_command(app, global)\n"
                                 << help.output;
  }
  fs::path deps_;
};

TEST_F(ServeBrowser, PageShowsTheSamePredictionAsImagefitPredict) {
  TempDir dir("imagefit-serve-browser");
  const fs::path model = dir.path() / "animals.imagefit";
  test::make_test_model(model);
  // A real photo when the repository's sample data is there, else a synthetic picture.
  fs::path image = test::source_dir() / "data/sample-sign-digits/3/IMG_4216.JPG";
  if (!fs::exists(image)) {
    image = dir.path() / "picture.png";
    test::write_bytes(image, test::encode(test::test_picture_bgr(4, 240, 180), ".png"));
  }

  auto predicted = test::run_command(bin() + " predict " + q(model) + " " + q(image) + " --json --top-k 5");
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  const json expected = last_json_line(predicted.output);
  ASSERT_TRUE(expected.contains("label")) << predicted.output;

  ChildProcess serve({bin(), "serve", model.string(), "--port", "0", "--threads", "2"}, dir.path() / "serve.log");
  ASSERT_TRUE(serve.started());
  const int port = serve.wait_for_port(120);
  ASSERT_GT(port, 0) << serve.log();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";

  const fs::path shot = test::serve_artifacts_dir() / "serve_page.png";
  fs::remove(shot);
  auto run = test::run_command("NODE_PATH=" + q(deps_ / "node_modules") + " timeout 300 node " +
                               q(test::source_dir() / "tests/serve/browser_check.js") + " " + q(url) + " " + q(image) +
                               " " + q(shot));
  ASSERT_EQ(run.exit_code, 0) << run.output << "\nserver log:\n" << serve.log();
  const json page = last_json_line(run.output);
  ASSERT_TRUE(page.contains("picked")) << run.output;

  // The model description.
  EXPECT_NE(page["model_name"].get<std::string>().find("animals.imagefit"), std::string::npos) << page.dump(2);
  EXPECT_NE(page["model_name"].get<std::string>().find("simple-cnn"), std::string::npos);
  EXPECT_EQ(page["classes"].get<std::vector<std::string>>(), test::test_classes());
  EXPECT_EQ(page["facts"]["validation accuracy"], "87.5%");
  EXPECT_EQ(page["facts"]["test accuracy"], "81.3%");
  EXPECT_EQ(page["facts"]["best epoch"], "7 of 10");

  // Picked with the file input and dropped on the drop zone: the label `imagefit predict` gives.
  for (const char* how : {"picked", "dropped"}) {
    SCOPED_TRACE(how);
    const json& p = page[how];
    ASSERT_EQ(p["state"], "done") << p.dump(2);
    EXPECT_EQ(p["label"], expected["label"]);
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.1f%%", 100 * expected["probability"].get<double>());
    EXPECT_EQ(p["probability_text"], pct);
    EXPECT_TRUE(p["preview_loaded"].get<bool>()) << "the preview image did not load";
    ASSERT_EQ(p["bars"].size(), expected["top"].size());
    for (size_t k = 0; k < p["bars"].size(); ++k) {
      const json& bar = p["bars"][k];
      EXPECT_EQ(bar["label"], expected["top"][k]["label"]) << k;
      const double prob = expected["top"][k]["probability"].get<double>();
      EXPECT_NEAR(bar["probability"].get<double>(), prob, 1e-5) << k;
      // The bar is drawn as long as the probability says.
      EXPECT_NEAR(bar["width"].get<double>() / bar["track"].get<double>(), prob, 0.02) << k;
    }
  }
  EXPECT_TRUE(page["drop_highlighted"].get<bool>());

  // A file that is not an image: the decoder's message on the page, no bars.
  EXPECT_EQ(page["not_an_image"]["state"], "error");
  for (const char* part : {"notes.txt", "cannot decode image"})
    EXPECT_NE(page["not_an_image"]["status"].get<std::string>().find(part), std::string::npos)
        << page["not_an_image"].dump(2);
  EXPECT_TRUE(page["not_an_image"]["bars"].empty());

  // Self-contained and clean: nothing fetched from elsewhere, no script errors (the one expected
  // console error is the failed 422 request of the non-image upload).
  EXPECT_TRUE(page["foreign_requests"].empty()) << page["foreign_requests"].dump();
  EXPECT_TRUE(page["failed_requests"].empty()) << page["failed_requests"].dump();
  for (const auto& e : page["console_errors"])
    EXPECT_NE(e.get<std::string>().find("422"), std::string::npos) << "page error: " << e;

  // The screenshot shows a rendered page: the accent-blue bar of the top class is on it.
  ASSERT_TRUE(fs::exists(shot)) << run.output;
  cv::Mat img = cv::imread(shot.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty());
  EXPECT_GE(img.cols, 1200);
  int accent = 0;
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) {
      const auto& px = img.at<cv::Vec3b>(y, x);  // #2f6fdd in BGR
      accent += std::abs(px[0] - 0xdd) < 12 && std::abs(px[1] - 0x6f) < 12 && std::abs(px[2] - 0x2f) < 12;
    }
  EXPECT_GT(accent, 200) << "no top-class bar in the screenshot " << shot;
  std::cout << "screenshots kept at " << shot << " (and serve_page-error.png)\n";

  EXPECT_EQ(serve.stop(SIGTERM, 30), 0) << serve.log();
}

}  // namespace
}  // namespace imagefit

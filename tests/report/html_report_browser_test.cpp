// Renders a generated report.html in headless Chromium (as a user would open it) and checks the
// DOM and a screenshot. The page and the screenshot stay in <build>/test-artifacts/ for a look.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <opencv2/imgproc.hpp>

#include "core/fs.h"
#include "report/html_report.h"
#include "report/image_grid.h"
#include "report/metrics.h"
#include "report_test_util.h"
#include "test_support.h"

namespace imagefit {
namespace {

namespace fs = std::filesystem;

const char* kChromium = "/usr/bin/chromium";

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Headless Chromium with everything that could reach the network or a profile turned off.
std::string chromium(const fs::path& profile, const std::string& action, const fs::path& page) {
  return "timeout 120 " + std::string(kChromium) +
         " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
         " --disable-component-update --disable-sync --disable-dev-shm-usage --hide-scrollbars"
         " --user-data-dir=" + shell_quote(profile.string()) + " " + action + " " +
         shell_quote("file://" + page.string());
}

// A synthetic image: a colour gradient with a dark disc, so thumbnails are not flat.
cv::Mat picture(int w, int h, int seed) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b((x * 255 / w + seed * 40) % 256, (y * 255 / h) % 256, (seed * 70) % 256);
  cv::circle(m, {w / 2, h / 2}, std::min(w, h) / 4, cv::Scalar(30, 30, 30), cv::FILLED);
  return m;
}

ReportData browser_report() {
  ReportData d;
  d.title = "Sign digits: mobilenet_v2 transfer";
  d.subtitle = "model.imagefit evaluated on sign-digits/test";
  d.model_summary = {{"architecture", "mobilenet_v2_0.35 + head"}, {"input", "224×224 RGB"}};
  d.training_settings = {{"epochs", "8 head + 6 fine-tune"}, {"batch size", "32"}};
  d.history = test::synthetic_history(14, 11, 9);
  for (int i = 0; i < 10; ++i) d.classes.push_back("digit_" + std::to_string(i));
  d.confusion.assign(10, std::vector<int64_t>(10, 0));
  for (int r = 0; r < 10; ++r) {
    d.confusion[r][r] = 18 + r % 3;
    d.confusion[r][(r + 1) % 10] = 1 + r % 2;
  }
  d.loss = 0.2468;
  d.evaluated_on = "the test split";
  for (int i = 0; i < 6; ++i) {
    MistakeExample m;
    m.path = "/data/sign-digits/test/" + std::to_string(i) + "/IMG_" + std::to_string(4000 + i) + ".JPG";
    m.true_label = d.classes[i];
    m.predicted_label = d.classes[(i + 1) % 10];
    m.probability = 0.95 - 0.05 * i;
    m.thumbnail = picture(100 + 20 * i, 100, i);
    d.mistakes.push_back(m);
  }
  std::vector<GridCell> preview;
  for (int i = 0; i < 8; ++i) preview.push_back({picture(120, 120, i), "sample " + std::to_string(i + 1), "", false});
  d.figures.push_back({"Augmentation preview", "what the generator does", image_grid_png(preview, 4, 100, "")});
  return d;
}

class HtmlReportBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kChromium))
      GTEST_SKIP() << "skipped: " << kChromium << " is not installed (apt-get install chromium to run this test)";
    dir_ = test::artifacts_dir();
    page_ = dir_ / "report.html";
    data_ = browser_report();
    write_html_report(data_, page_.string());
  }
  fs::path dir_, page_;
  ReportData data_;
};

TEST_F(HtmlReportBrowser, DomHasTheSectionsClassesAndNumbers) {
  TempDir profile("imagefit-chromium");
  auto result = test::run_command(chromium(profile.path(), "--dump-dom", page_));
  ASSERT_EQ(result.exit_code, 0) << result.output.substr(0, 4000);
  const std::string& dom = result.output;
  // Chromium parsed the page: its DOM has the body and every section we wrote.
  ASSERT_NE(dom.find("<body>"), std::string::npos) << dom.substr(0, 2000);
  for (const char* id : {"summary", "model", "settings", "curves", "metrics", "confusion", "mistakes", "figures"})
    EXPECT_NE(dom.find(std::string("id=\"") + id + "\""), std::string::npos) << "section " << id;
  for (const auto& c : data_.classes) EXPECT_NE(dom.find(">" + c + "<"), std::string::npos) << c;
  auto metrics = metrics_from_confusion(data_.classes, data_.confusion);
  char acc[32];
  std::snprintf(acc, sizeof acc, "%.1f%%", metrics.accuracy * 100);
  EXPECT_NE(dom.find(acc), std::string::npos) << "accuracy " << acc;
  EXPECT_NE(dom.find("0.2468"), std::string::npos);
  EXPECT_NE(dom.find("IMG_4003.JPG"), std::string::npos);
  size_t mistakes = 0;
  for (size_t p = dom.find("class=\"mistake\""); p != std::string::npos; p = dom.find("class=\"mistake\"", p + 1))
    ++mistakes;
  EXPECT_EQ(mistakes, data_.mistakes.size());
  EXPECT_NE(dom.find("class=\"confusion-table\""), std::string::npos);
}

TEST_F(HtmlReportBrowser, ScreenshotShowsTheRenderedPage) {
  TempDir profile("imagefit-chromium");
  fs::path shot = dir_ / "report.png";
  fs::remove(shot);
  auto result = test::run_command(
      chromium(profile.path(), "--screenshot=" + shell_quote(shot.string()) + " --window-size=1200,2400", page_));
  ASSERT_EQ(result.exit_code, 0) << result.output.substr(0, 4000);
  ASSERT_TRUE(fs::exists(shot)) << "no screenshot written; chromium said:\n" << result.output.substr(0, 4000);
  cv::Mat img = cv::imread(shot.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.cols, 1200);
  EXPECT_EQ(img.rows, 2400);
  // Not blank: plenty of ink and variation.
  cv::Mat gray;
  cv::cvtColor(img, gray, cv::COLOR_BGR2GRAY);
  cv::Scalar mean, stddev;
  cv::meanStdDev(gray, mean, stddev);
  EXPECT_GT(stddev[0], 15) << "screenshot looks blank";
  EXPECT_GT(cv::countNonZero(gray < 128), 20000) << "too little text/graphics in the screenshot";
  // The embedded SVG curves were decoded and drawn: their blue/orange line colours are on screen.
  EXPECT_GT(test::count_color(img, 0x1f77b4, 30), 300) << "training curve not rendered";
  EXPECT_GT(test::count_color(img, 0xff7f0e, 30), 300) << "validation curve not rendered";
  // So was the confusion heat map (its darkest blue), within the first 2400 px.
  EXPECT_GT(test::count_color(img, 0x08306b, 20), 500) << "confusion matrix not rendered";
  std::cout << "screenshot kept at " << shot << "\n";
}

}  // namespace
}  // namespace imagefit

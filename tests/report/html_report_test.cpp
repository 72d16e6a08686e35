#include "report/html_report.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <regex>

#include "core/error.h"
#include "core/fs.h"
#include "report/data_uri.h"
#include "report/metrics.h"
#include "report_test_util.h"

namespace imagefit {
namespace {

std::vector<unsigned char> base64_decode(const std::string& s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<unsigned char> out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : s) {
    int v = value(c);
    if (v < 0) break;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back((acc >> bits) & 0xff);
    }
  }
  return out;
}

// All data: URIs of a MIME type in the page, decoded.
std::vector<std::vector<unsigned char>> data_uris(const std::string& html, const std::string& mime) {
  std::vector<std::vector<unsigned char>> out;
  std::string prefix = "data:" + mime + ";base64,";
  for (size_t p = html.find(prefix); p != std::string::npos; p = html.find(prefix, p + 1)) {
    size_t start = p + prefix.size(), end = html.find('"', start);
    out.push_back(base64_decode(html.substr(start, end - start)));
  }
  return out;
}

ReportData sample_report() {
  ReportData d;
  d.title = "cats vs dogs";
  d.subtitle = "model.imagefit on data/test";
  d.generated_at = "2024-01-02 03:04";
  d.model_summary = {{"architecture", "simple_cnn"}, {"parameters", "1,234,567"}};
  d.training_settings = {{"epochs", "30"}, {"optimizer", "RMSprop 1e-3"}};
  d.history = test::synthetic_history(6, 4);
  d.classes = {"cats", "dogs", "foxes"};
  d.confusion = {{45, 4, 1}, {6, 40, 4}, {2, 3, 45}};
  d.loss = 0.4321;
  d.evaluated_on = "the test split";
  for (int i = 0; i < 3; ++i) {
    MistakeExample m;
    m.path = "/data/test/cats/cat." + std::to_string(100 + i) + ".jpg";
    m.true_label = "cats";
    m.predicted_label = "dogs";
    m.probability = 0.9 - 0.1 * i;
    m.thumbnail = cv::Mat(90, 120, CV_8UC3, cv::Scalar(200, 100, 50));
    d.mistakes.push_back(m);
  }
  return d;
}

TEST(Base64, MatchesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(std::string("")), "");
  EXPECT_EQ(base64_encode(std::string("f")), "Zg==");
  EXPECT_EQ(base64_encode(std::string("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(std::string("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(std::string("foob")), "Zm9vYg==");
  EXPECT_EQ(base64_encode(std::string("fooba")), "Zm9vYmE=");
  EXPECT_EQ(base64_encode(std::string("foobar")), "Zm9vYmFy");
  std::vector<unsigned char> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
  EXPECT_EQ(data_uri("image/png", std::string("foo")), "data:image/png;base64,Zm9v");
}

TEST(HtmlReport, HasEverySectionAndTheNumbers) {
  ReportData d = sample_report();
  std::string html = render_html_report(d);
  for (const char* id : {"summary", "model", "settings", "curves", "metrics", "confusion", "mistakes"})
    EXPECT_NE(html.find(std::string("<section id=\"") + id + "\""), std::string::npos) << id;
  // Accuracy from the matrix: 130 of 150.
  char acc[32];
  std::snprintf(acc, sizeof acc, "%.1f%%", 100.0 * 130 / 150);
  EXPECT_NE(html.find(acc), std::string::npos) << acc;
  EXPECT_NE(html.find("130 of 150 correct"), std::string::npos);
  EXPECT_NE(html.find("0.4321"), std::string::npos);
  // Per-class precision of "dogs": 40 / (4 + 40 + 3).
  auto metrics = metrics_from_confusion(d.classes, d.confusion);
  char prec[32];
  std::snprintf(prec, sizeof prec, "%.3f", metrics.per_class[1].precision);
  EXPECT_NE(html.find(std::string(">") + prec + "<"), std::string::npos) << prec;
  for (const auto& c : d.classes) EXPECT_NE(html.find(">" + c + "<"), std::string::npos) << c;
  EXPECT_NE(html.find("simple_cnn"), std::string::npos);
  EXPECT_NE(html.find("RMSprop 1e-3"), std::string::npos);
  EXPECT_NE(html.find("cat.101.jpg"), std::string::npos);
  EXPECT_NE(html.find("predicted: dogs (0.80)"), std::string::npos);
  EXPECT_NE(html.find("Showing 3 of 20"), std::string::npos);  // 150 - 130 mistakes in the matrix
  EXPECT_NE(html.find("2024-01-02 03:04"), std::string::npos);
  // The best epoch (lowest val_loss) row is marked in the per-epoch table.
  EXPECT_NE(html.find("<tr class=\"best\"><td>4</td>"), std::string::npos);
}

TEST(HtmlReport, IsSelfContained) {
  std::string html = render_html_report(sample_report());
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  // Every src/href is a data: URI or an in-page anchor.
  std::regex ref("(src|href)=\"([^\"]{0,12})");
  int refs = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator(); ++it) {
    std::string target = (*it)[2];
    EXPECT_TRUE(target.rfind("data:", 0) == 0 || target.rfind("#", 0) == 0) << target;
    ++refs;
  }
  EXPECT_GT(refs, 8);
  // The embedded pictures decode: curves and confusion matrix as SVG, thumbnails as JPEG.
  auto svgs = data_uris(html, "image/svg+xml");
  ASSERT_EQ(svgs.size(), 2u);
  for (const auto& s : svgs) EXPECT_NE(std::string(s.begin(), s.end()).find("</svg>"), std::string::npos);
  auto jpegs = data_uris(html, "image/jpeg");
  ASSERT_EQ(jpegs.size(), 3u);
  cv::Mat thumb = cv::imdecode(jpegs[0], cv::IMREAD_COLOR);
  ASSERT_FALSE(thumb.empty());
  EXPECT_EQ(thumb.cols, 120);
  // RGB (200, 100, 50) arrives as BGR (50, 100, 200), give or take JPEG rounding.
  cv::Vec3b px = thumb.at<cv::Vec3b>(45, 60);
  EXPECT_NEAR(px[0], 50, 6);
  EXPECT_NEAR(px[2], 200, 6);
}

TEST(HtmlReport, EscapesUserText) {
  ReportData d = sample_report();
  d.title = "<script>alert(1)</script>";
  d.classes[2] = "R&D \"lab\" <x>";
  d.mistakes[0].path = "/tmp/a\"b<c>.jpg";
  std::string html = render_html_report(d);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(html.find("<x>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("R&amp;D &quot;lab&quot; &lt;x&gt;"), std::string::npos);
  EXPECT_EQ(html_escape("a<b>&'\""), "a&lt;b&gt;&amp;&#39;&quot;");
}

TEST(HtmlReport, OptionalPartsMayBeMissing) {
  ReportData d;
  d.title = "empty";
  std::string html = render_html_report(d);
  EXPECT_NE(html.find("<section id=\"summary\""), std::string::npos);
  EXPECT_EQ(html.find("<section id=\"curves\""), std::string::npos);
  EXPECT_EQ(html.find("<section id=\"confusion\""), std::string::npos);
  EXPECT_NE(html.find("No mistakes to show."), std::string::npos);

  // A perfect run says so; explicit per-class metrics and accuracy win over the matrix.
  ReportData p;
  p.classes = {"a", "b"};
  p.confusion = {{5, 0}, {0, 5}};
  html = render_html_report(p);
  EXPECT_NE(html.find("No mistakes on this set."), std::string::npos);
  EXPECT_NE(html.find("100.0%"), std::string::npos);
  p.accuracy = 0.5;
  p.per_class = {{"a", 0.25, 0.5, 0.333, 5}};
  html = render_html_report(p);
  EXPECT_NE(html.find("50.0%"), std::string::npos);
  EXPECT_NE(html.find(">0.250<"), std::string::npos);

  ReportData bad;
  bad.classes = {"a", "b"};
  bad.confusion = {{1, 2, 3}};
  EXPECT_THROW(render_html_report(bad), Error);
}

TEST(HtmlReport, WritesAtomically) {
  TempDir dir("imagefit-html");
  auto path = dir.path() / "out" / "report.html";
  write_html_report(sample_report(), path.string());
  std::string html = read_file(path);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_EQ(test::temp_files_in(path.parent_path()), 0);
  atomic_write_text(dir.path() / "file", "x");
  try {
    write_html_report(sample_report(), (dir.path() / "file" / "report.html").string());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("report.html"), std::string::npos) << e.what();
  }
  std::filesystem::create_directories(dir.path() / "taken.html" / "x");
  EXPECT_THROW(write_html_report(sample_report(), (dir.path() / "taken.html").string()), Error);
  EXPECT_EQ(test::temp_files_in(dir.path()), 0);
}

}  // namespace
}  // namespace imagefit

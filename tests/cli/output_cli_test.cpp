// What people read (issue 14): predict's table and CSV columns, names that cannot drive the terminal,
// counts with commas and plurals, `info` in words with its parameter count and date, the report's
// training settings in words with rounded numbers. Through the built binary on a tiny model.
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "core/fs.h"
#include "test_support.h"

namespace imagefit {
namespace {

using test::imagefit_binary;
using test::run_command;

std::string bin() { return imagefit_binary().string(); }
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }
// Only what the command writes on stdout.
test::CommandResult stdout_of(const std::string& command) { return run_command("( " + command + " 2>/dev/null )"); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// One CSV line's fields (RFC 4180 quoting, as predict writes it).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') out.back() += '"', ++i;
    else if (c == '"') quoted = !quoted;
    else if (c == ',' && !quoted) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

void write_png(const fs::path& p, int value) {
  fs::create_directories(p.parent_path());
  cv::imwrite(p.string(), cv::Mat(24, 24, CV_8UC3, cv::Scalar(value, 255 - value, 40)));
}

// Three classes of flat colours, one epoch from scratch at 16 px: seconds, and a real model file.
struct TinyModel {
  TempDir dir;
  fs::path data, model;
  TinyModel() {
    data = dir.path() / "ds";
    model = dir.path() / "tiny.imagefit";
    const char* classes[] = {"cat", "dog", "horse"};
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 5; ++i) write_png(data / classes[c] / ("img_" + std::to_string(i) + ".png"), 30 + 90 * c + i);
    const auto r = run_command(bin() + " train " + q(data) + " --arch simple-cnn --image-size 16 --epochs 1 -q -o " + q(model));
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
};

#define REQUIRE_BINARY() \
  if (!fs::exists(imagefit_binary())) GTEST_SKIP() << "skipped: " << imagefit_binary() << " is not built"

TEST(PredictOutput, PlainTableHasAHeaderAlignedColumnsAndPercentages) {
  REQUIRE_BINARY();
  TinyModel t;
  auto r = stdout_of(bin() + " predict " + q(t.model) + " " + q(t.data) + " --top-k 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = lines_of(r.output);
  ASSERT_EQ(lines.size(), 1u + 15u) << r.output;  // the header, then one row an image
  const std::string& header = lines[0];
  EXPECT_EQ(header.rfind("path", 0), 0u) << header;
  const size_t label_col = header.find("label"), prob_end = header.find("probability") + std::string("probability").size();
  const size_t top2_col = header.find("top 2"), top3_col = header.find("top 3");
  ASSERT_NE(label_col, std::string::npos) << header;
  ASSERT_NE(top2_col, std::string::npos) << header;
  ASSERT_NE(top3_col, std::string::npos) << header;
  // row: path, label, probability (right-aligned under its header), then "label prob" for the others.
  const std::regex row_re(R"(^(\S+) +(cat|dog|horse) +(\d{1,3}\.\d+%)  (cat|dog|horse) +(\d{1,3}\.\d+%)  (cat|dog|horse) +(\d{1,3}\.\d+%)$)");
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& row = lines[i];
    std::smatch m;
    ASSERT_TRUE(std::regex_match(row, m, row_re)) << "row " << i << ": '" << row << "'\n" << r.output;
    EXPECT_EQ(size_t(m.position(2)), label_col) << row;
    EXPECT_EQ(size_t(m.position(3) + m.length(3)), prob_end) << row;
    EXPECT_EQ(size_t(m.position(4)), top2_col) << row;
    EXPECT_EQ(size_t(m.position(6)), top3_col) << row;
    // Three different classes, highest first, and no old-style 0..1 numbers.
    EXPECT_NE(m[2], m[4]);
    EXPECT_NE(m[4], m[6]);
    EXPECT_GE(std::stod(m[3]), std::stod(m[5]));
    EXPECT_GE(std::stod(m[5]), std::stod(m[7]));
    EXPECT_LE(std::stod(m[3]) + std::stod(m[5]) + std::stod(m[7]), 100.5);
  }
  EXPECT_EQ(r.output.find("1.000"), std::string::npos) << r.output;
}

TEST(PredictOutput, CsvHasTheTopKColumnsAndTheErrorSaysOnlyTheReason) {
  REQUIRE_BINARY();
  TinyModel t;
  const fs::path bad = t.dir.path() / "broken.png";
  atomic_write_text(bad, "not a png at all");
  const fs::path good = t.data / "dog" / "img_0.png";
  auto r = stdout_of(bin() + " predict " + q(t.model) + " " + q(good) + " " + q(bad) + " --csv --top-k 2");
  EXPECT_EQ(r.exit_code, 1) << r.output;  // one file failed
  auto lines = lines_of(r.output);
  ASSERT_EQ(lines.size(), 3u) << r.output;
  EXPECT_EQ(lines[0], "path,label,probability,label_2,probability_2,error");
  auto ok = csv_fields(lines[1]);
  ASSERT_EQ(ok.size(), 6u) << lines[1];
  EXPECT_EQ(ok[0], good.string());
  EXPECT_NE(ok[1], ok[3]);
  EXPECT_GE(std::stod(ok[2]), std::stod(ok[4]));
  EXPECT_EQ(ok[5], "");
  auto err = csv_fields(lines[2]);
  ASSERT_EQ(err.size(), 6u) << lines[2];
  EXPECT_EQ(err[0], bad.string());
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(err[size_t(i)], "") << lines[2];
  EXPECT_FALSE(err[5].empty()) << lines[2];
  EXPECT_EQ(err[5].find("broken.png"), std::string::npos) << "the path again in the error: " << lines[2];

  // More than the model has: one column pair a class, no more.
  r = stdout_of(bin() + " predict " + q(t.model) + " " + q(good) + " --csv --top-k 7");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  lines = lines_of(r.output);
  ASSERT_EQ(lines.size(), 2u) << r.output;
  EXPECT_EQ(lines[0], "path,label,probability,label_2,probability_2,label_3,probability_3,error");
  EXPECT_EQ(csv_fields(lines[1]).size(), 8u) << lines[1];
  // The default --top-k (3) in CSV too.
  r = stdout_of(bin() + " predict " + q(t.model) + " " + q(good) + " --csv");
  EXPECT_EQ(lines_of(r.output)[0], "path,label,probability,label_2,probability_2,label_3,probability_3,error");
}

TEST(PredictOutput, FileNamesWithEscapesAndControlCharactersArePrintedEscaped) {
  REQUIRE_BINARY();
  TinyModel t;
  const fs::path dir = t.dir.path() / "hostile";
  write_png(dir / "evil\x1b[31mred.png", 100);
  write_png(dir / "two\nlines.png", 120);
  write_png(dir / "caf\xc3\xa9.png", 140);  // UTF-8 stays readable
  atomic_write_text(dir / "bell\x07.png", "broken");
  auto r = stdout_of(bin() + " predict " + q(t.model) + " " + q(dir));
  EXPECT_EQ(r.exit_code, 1) << r.output;  // the broken one
  EXPECT_EQ(r.output.find('\x1b'), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find('\x07'), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("evil\\x1b[31mred.png"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("two\\x0alines.png"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("caf\xc3\xa9.png"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bell\\x07.png"), std::string::npos) << r.output;
  EXPECT_EQ(lines_of(r.output).size(), 1u + 4u) << "one line a file: " << r.output;
  // The error line names the reason once, after the path.
  for (const auto& line : lines_of(r.output))
    if (line.find("bell") != std::string::npos) {
      EXPECT_NE(line.find("error: "), std::string::npos) << line;
      EXPECT_EQ(line.find("bell", line.find("error: ")), std::string::npos) << line;
    }

  // JSON keeps the real name (escaped as JSON does), and a name that is not UTF-8 is no crash.
  write_png(dir / "latin1-\xe9.png", 160);
  r = stdout_of(bin() + " predict " + q(t.model) + " " + q(dir) + " --json");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.find('\x1b'), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("evil\\u001b[31mred.png"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("latin1-\xef\xbf\xbd.png"), std::string::npos) << r.output;  // U+FFFD
  EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
}

TEST(InfoOutput, ParametersDateAndTrainingInWords) {
  REQUIRE_BINARY();
  TinyModel t;
  auto j = run_command(bin() + " info " + q(t.model) + " --json");
  ASSERT_EQ(j.exit_code, 0) << j.output;
  const auto meta = nlohmann::json::parse(j.output);
  // The raw value stays; the readable one is added.
  ASSERT_TRUE(meta["created"].is_string());
  ASSERT_TRUE(meta.contains("created_iso")) << j.output;
  const std::string iso = meta["created_iso"];
  EXPECT_TRUE(std::regex_match(iso, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d)"))) << iso;
  const auto& p = meta["parameters"];
  ASSERT_TRUE(p.is_object()) << j.output;
  EXPECT_GT(p["backbone"].get<long long>(), 100000);  // simple-cnn's convolutions
  EXPECT_GT(p["head"].get<long long>(), 0);
  EXPECT_EQ(p["total"].get<long long>(), p["backbone"].get<long long>() + p["head"].get<long long>());
  EXPECT_EQ(p["trained"], p["total"]) << "from scratch everything trains";

  auto text = stdout_of(bin() + " info " + q(t.model));
  ASSERT_EQ(text.exit_code, 0) << text.output;
  const std::string& out = text.output;
  std::string total = std::to_string(p["total"].get<long long>());
  for (int i = int(total.size()) - 3; i > 0; i -= 3) total.insert(size_t(i), ",");
  EXPECT_NE(out.find("parameters:   " + total + " (backbone "), std::string::npos) << out;
  EXPECT_NE(out.find("created:      " + iso), std::string::npos) << out;
  EXPECT_NE(out.find("classes:      3: cat, dog, horse"), std::string::npos) << out;
  EXPECT_NE(out.find("resize squash"), std::string::npos) << out;
  // Labels in words, not the file's keys; no raw float noise, no config dump.
  for (const char* label : {"batch size", "epochs run", "training images", "training time", "best epoch", "val. accuracy"})
    EXPECT_NE(out.find(label), std::string::npos) << label << "\n" << out;
  for (const char* key : {"batch_size", "epochs_run", "train_images", "history_csv", "val_accuracy", "\"created\"", "weight-decay ="})
    EXPECT_EQ(out.find(key), std::string::npos) << key << "\n" << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(training time +\d+\.\d\d s\n)"))) << out;
  EXPECT_FALSE(std::regex_search(out, std::regex(R"(\d\.[1-9]\d{4,})"))) << "unrounded numbers: " << out;
  // The config is still one flag away.
  auto config = stdout_of(bin() + " info " + q(t.model) + " --config");
  EXPECT_NE(config.output.find("arch = \"simple-cnn\""), std::string::npos) << config.output;
}

TEST(CountsOutput, ExportAndInfoWriteParametersWithCommas) {
  REQUIRE_BINARY();
  TinyModel t;
  auto info = nlohmann::json::parse(run_command(bin() + " info " + q(t.model) + " --json").output);
  std::string total = std::to_string(info["parameters"]["total"].get<long long>());
  for (int i = int(total.size()) - 3; i > 0; i -= 3) total.insert(size_t(i), ",");
  auto r = stdout_of(bin() + " export " + q(t.model) + " --format onnx -o " + q(t.dir.path() / "tiny.onnx"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(", " + total + " parameters, "), std::string::npos) << total << "\n" << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(\d+ nodes)"))) << r.output;
}

TEST(CountsOutput, OneImageIsSingular) {
  REQUIRE_BINARY();
  TinyModel t;
  // evaluate on a folder with one image of one class: "(1 image)", never "1 images".
  const fs::path one = t.dir.path() / "one";
  write_png(one / "dog" / "x.png", 125);
  auto r = stdout_of(bin() + " evaluate " + q(t.model) + " " + q(one) + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(1 image)"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("1 images"), std::string::npos) << r.output;
}

TEST(ReportOutput, TrainingSettingsInWordsWithRoundedNumbers) {
  REQUIRE_BINARY();
  TinyModel t;
  const fs::path report = t.dir.path() / "report";
  auto r = run_command(bin() + " evaluate " + q(t.model) + " " + q(t.data) + " -q --report " + q(report));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string html = read_file(report / "report.html");
  const size_t a = html.find("<section id=\"settings\">"), b = html.find("</section>", a);
  ASSERT_NE(a, std::string::npos);
  const std::string settings = html.substr(a, b - a);
  for (const char* label : {"<th>batch size</th>", "<th>training time</th>", "<th>history file</th>", "<th>epochs run</th>"})
    EXPECT_NE(settings.find(label), std::string::npos) << label << "\n" << settings;
  for (const char* key : {"batch_size", "history_csv", "epochs_run", "train_images", "learning_rate"})
    EXPECT_EQ(settings.find(key), std::string::npos) << key << "\n" << settings;
  EXPECT_TRUE(std::regex_search(settings, std::regex(R"(<th>training time</th><td>\d+\.\d\d s</td>)"))) << settings;
  EXPECT_FALSE(std::regex_search(settings, std::regex(R"(\d\.[1-9]\d{4,})"))) << "unrounded numbers: " << settings;
  // The model section has the parameter count and the date.
  const size_t m = html.find("<section id=\"model\">");
  const std::string model = html.substr(m, html.find("</section>", m) - m);
  EXPECT_TRUE(std::regex_search(model, std::regex(R"(<th>parameters</th><td>\d{1,3}(,\d{3})+ \(backbone)"))) << model;
  EXPECT_TRUE(std::regex_search(model, std::regex(R"(<th>created</th><td>\d{4}-\d\d-\d\dT)"))) << model;
}

}  // namespace
}  // namespace imagefit

// End to end through the built binary: split the shipped sample dataset, train from scratch,
// evaluate, predict, info — and the bad inputs a user will meet.
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "core/fs.h"
#include "test_support.h"

using namespace imagefit;
using imagefit::test::imagefit_binary;
using imagefit::test::run_command;
using imagefit::test::source_dir;

namespace {
std::string bin() { return imagefit_binary().string(); }
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// The last JSON object in the output (train/evaluate print progress on stderr before it).
nlohmann::json last_json(const std::string& out) {
  auto pos = out.rfind("\n{");
  return nlohmann::json::parse(out.substr(pos == std::string::npos ? out.find('{') : pos + 1));
}

// Trained once for all tests in this file (the slow part).
struct Trained {
  TempDir dir;
  fs::path data, model;
  nlohmann::json summary;
  std::string output;
};
Trained& trained() {
  static Trained* t = [] {
    auto* t = new Trained;
    t->data = t->dir.path() / "data";
    t->model = t->dir.path() / "digits.imagefit";
    auto split = run_command(bin() + " split " + q(source_dir() / "data/sample-sign-digits") + " " + q(t->data) +
                             " --val 0.2 --test 0.2 --seed 0");
    EXPECT_EQ(split.exit_code, 0) << split.output;
    auto r = run_command(bin() + " train " + q(t->data) + " -o " + q(t->model) +
                         " --arch simple-cnn --image-size 64 --epochs 25 --seed 0 --json");
    t->output = r.output;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    t->summary = last_json(r.output);
    return t;
  }();
  return *t;
}

void write_png(const fs::path& p, int value) {
  fs::create_directories(p.parent_path());
  cv::imwrite(p.string(), cv::Mat(24, 24, CV_8UC3, cv::Scalar(value, 255 - value, 40)));
}
}  // namespace

void check_TrainsWellAboveChanceOnTheSampleDataset() {
  auto& t = trained();
  const auto& s = t.summary;
  for (const char* key : {"best_epoch", "val_loss", "val_accuracy", "test_loss", "test_accuracy", "classes", "model", "seconds"})
    EXPECT_TRUE(s.contains(key)) << key;
  EXPECT_EQ(s["classes"].size(), 10u);
  // 10 classes: chance is 0.10.
  EXPECT_GE(s["test_accuracy"].get<double>(), 0.6) << t.output;
  EXPECT_GE(s["val_accuracy"].get<double>(), 0.6);
  EXPECT_TRUE(fs::exists(t.model));
  // History CSV next to the model, one line an epoch.
  const std::string csv = read_file(t.dir.path() / "digits.history.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + s["epochs_run"].get<int>());
  // The tutorial's curves, beside the model.
  EXPECT_GT(fs::file_size(t.dir.path() / "digits.curves.png"), 1000u);
  // The progress output names each epoch and marks saved checkpoints.
  EXPECT_NE(t.output.find("val_loss"), std::string::npos);
  EXPECT_NE(t.output.find("saved (best val_loss)"), std::string::npos);
}

void check_EvaluateAgreesWithTrainingsTestAccuracy() {
  auto& t = trained();
  auto r = run_command(bin() + " evaluate " + q(t.model) + " " + q(t.data / "test") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = last_json(r.output);
  EXPECT_NEAR(j["accuracy"].get<double>(), t.summary["test_accuracy"].get<double>(), 1e-9);
  EXPECT_NEAR(j["loss"].get<double>(), t.summary["test_loss"].get<double>(), 1e-4);
  ASSERT_EQ(j["per_class"].size(), 10u);
  long total = 0, diagonal = 0;
  for (size_t r_ = 0; r_ < 10; ++r_)
    for (size_t c = 0; c < 10; ++c) {
      total += j["confusion"][r_][c].get<long>();
      if (r_ == c) diagonal += j["confusion"][r_][c].get<long>();
    }
  EXPECT_EQ(total, 120);  // 12 test images a class
  EXPECT_NEAR(double(diagonal) / total, j["accuracy"].get<double>(), 1e-12);
  auto text = run_command(bin() + " evaluate " + q(t.model) + " " + q(t.data));  // dataset root → its test/
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("precision"), std::string::npos);
  EXPECT_NE(text.output.find("confusion matrix"), std::string::npos);
}

void check_ReportHasPicturesAndAPage() {
  auto& t = trained();
  const fs::path report = t.dir.path() / "report";
  auto r = run_command(bin() + " evaluate " + q(t.model) + " " + q(t.data) + " --report " + q(report) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = last_json(r.output);
  EXPECT_EQ(j["report"].size(), 5u) << j.dump();  // confusion, mistakes, curves, reliability, report.html
  // Real pictures of a sensible size (the drawing itself is tested in tests/report).
  for (const char* name : {"confusion.png", "curves.png", "mistakes.png"}) {
    cv::Mat png = cv::imread((report / name).string());
    ASSERT_FALSE(png.empty()) << name;
    EXPECT_GE(png.cols, 400) << name;
    EXPECT_GE(png.rows, 200) << name;
  }
  const std::string html = read_file(report / "report.html");
  // Self-contained: the pictures are inline, nothing is fetched.
  EXPECT_NE(html.find("data:image/"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_NE(html.find("simple-cnn"), std::string::npos);
  // The worst mistake's file name and the accuracy figure are on the page.
  ASSERT_FALSE(j["mistakes"].empty());
  EXPECT_NE(html.find(fs::path(j["mistakes"][0]["path"].get<std::string>()).filename().string()), std::string::npos);
  char accuracy[32];
  std::snprintf(accuracy, sizeof accuracy, "%.1f", 100 * j["accuracy"].get<double>());
  EXPECT_NE(html.find(accuracy), std::string::npos) << accuracy;
}

void check_PredictFilesAndFoldersWithJsonCsvAndBadFiles() {
  auto& t = trained();
  const fs::path img = *fs::directory_iterator(t.data / "test" / "3");
  auto r = run_command(bin() + " predict " + q(t.model) + " " + q(img) + " --json --top-k 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  EXPECT_EQ(j["path"], img.string());
  ASSERT_EQ(j["top"].size(), 3u);
  EXPECT_EQ(j["label"], j["top"][0]["label"]);
  EXPECT_GE(j["top"][0]["probability"].get<double>(), j["top"][1]["probability"].get<double>());

  // A folder (recursive) plus a corrupt file: the others are predicted, the exit code says something failed.
  const fs::path bad = t.dir.path() / "corrupt.jpg";
  atomic_write_text(bad, "\xFF\xD8\xFF\xE0 truncated");
  auto many = run_command(bin() + " predict " + q(t.model) + " " + q(t.data / "test") + " " + q(bad) + " --csv");
  EXPECT_NE(many.exit_code, 0);
  std::istringstream lines(many.output);
  std::string line;
  int predicted = 0, errors = 0;
  while (std::getline(lines, line)) {
    if (line.rfind(t.data.string(), 0) == 0) ++predicted;
    if (line.find("corrupt.jpg") != std::string::npos && line.find(",,,") != std::string::npos) ++errors;
  }
  EXPECT_EQ(predicted, 120);
  EXPECT_EQ(errors, 1) << many.output;
}

void check_InfoDescribesTheModel() {
  auto& t = trained();
  auto r = run_command(bin() + " info " + q(t.model) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["network"]["arch"], "simple-cnn");
  EXPECT_EQ(j["network"]["image_size"], 64);
  EXPECT_EQ(j["network"]["classes"].size(), 10u);
  EXPECT_EQ(j["training"]["best_epoch"], t.summary["best_epoch"]);
  auto text = run_command(bin() + " info " + q(t.model));
  EXPECT_NE(text.output.find("simple-cnn"), std::string::npos);
}

void check_TruncatedModelIsAClearErrorNotACrash() {
  auto& t = trained();
  TempDir dir;
  const std::string bytes = read_file(t.model);
  const fs::path cut = dir.path() / "cut.imagefit";
  atomic_write_text(cut, bytes.substr(0, bytes.size() / 3));
  const fs::path img = *fs::directory_iterator(t.data / "test" / "3");
  auto r = run_command(bin() + " predict " + q(cut) + " " + q(img));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cut.imagefit"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
}

// ctest runs each TEST in its own process, so the trained model is shared by one test.
TEST(EndToEnd, SplitTrainEvaluatePredictInfoOnTheSampleDataset) {
  { SCOPED_TRACE("train"); check_TrainsWellAboveChanceOnTheSampleDataset(); }
  { SCOPED_TRACE("evaluate"); check_EvaluateAgreesWithTrainingsTestAccuracy(); }
  { SCOPED_TRACE("report"); check_ReportHasPicturesAndAPage(); }
  { SCOPED_TRACE("predict"); check_PredictFilesAndFoldersWithJsonCsvAndBadFiles(); }
  { SCOPED_TRACE("info"); check_InfoDescribesTheModel(); }
  { SCOPED_TRACE("truncated model"); check_TruncatedModelIsAClearErrorNotACrash(); }
}

TEST(BadInput, DatasetProblemsNameTheFolder) {
  TempDir dir;
  const fs::path ds = dir.path() / "ds";
  write_png(ds / "cats" / "1.png", 10);
  write_png(ds / "cats" / "2.png", 20);
  fs::create_directories(ds / "dogs");  // empty class folder
  auto r = run_command(bin() + " train " + q(ds) + " -o " + q(dir.path() / "m.imagefit") + " --epochs 1 -q");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("dogs: empty class folder"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "m.imagefit"));

  fs::remove(ds / "dogs");  // a single class
  r = run_command(bin() + " train " + q(ds) + " --epochs 1 -q -o " + q(dir.path() / "m.imagefit"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("only one class"), std::string::npos) << r.output;

  // A class missing from one split.
  const fs::path sp = dir.path() / "split";
  for (const char* c : {"cats", "dogs"})
    for (int i = 0; i < 3; ++i) write_png(sp / "train" / c / (std::to_string(i) + ".png"), 30 * i);
  write_png(sp / "validation" / "cats" / "v.png", 5);
  r = run_command(bin() + " train " + q(sp) + " --epochs 1 -q -o " + q(dir.path() / "m.imagefit"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("validation: class folders differ from train/; missing: dogs"), std::string::npos) << r.output;
}

TEST(BadInput, CorruptImageIsSkippedByNameOrFatalWithStrict) {
  TempDir dir;
  const fs::path ds = dir.path() / "ds";
  for (const char* c : {"a", "b"})
    for (int i = 0; i < 6; ++i) write_png(ds / c / (std::to_string(i) + ".png"), (c[0] == 'a' ? 20 : 220) + i);
  atomic_write_text(ds / "a" / "broken.jpg", "\xFF\xD8\xFF\xE0 not a jpeg");
  auto r = run_command(bin() + " train " + q(ds) + " --arch simple-cnn --image-size 16 --epochs 1 -o " + q(dir.path() / "m.imagefit"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("broken.jpg"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("could not be read and were skipped"), std::string::npos) << r.output;
  r = run_command(bin() + " train " + q(ds) + " --arch simple-cnn --image-size 16 --epochs 1 --strict -o " + q(dir.path() / "m2.imagefit"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("broken.jpg"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "m2.imagefit"));
}

// A class whose every file fails to decode would train as if it did not exist: an error naming it.
TEST(BadInput, AClassWithNoDecodableImageIsAnErrorNamingItsFolder) {
  TempDir dir;
  const fs::path ds = dir.path() / "ds";
  for (const char* c : {"a", "b"})
    for (int i = 0; i < 6; ++i) write_png(ds / c / (std::to_string(i) + ".png"), (c[0] == 'a' ? 20 : 25) + 30 * i);
  for (int i = 0; i < 4; ++i) atomic_write_text(ds / "c" / (std::to_string(i) + ".jpg"), "\xFF\xD8\xFF\xE0 not a jpeg");
  auto r = run_command(bin() + " train " + q(ds) + " --arch simple-cnn --image-size 16 --epochs 1 -o " + q(dir.path() / "m.imagefit"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find((ds / "c").string() + ": none of the"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("class 'c' could be read"), std::string::npos) << r.output;
  // train's quick check (no decoding) warned first: the four files are the same bytes.
  EXPECT_NE(r.output.find("warning: 1 group of identical files within a split"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "m.imagefit"));
}

// --resize is stored in the model (info shows it) and bad values are refused with the choices.
TEST(Cli, ResizeModeIsRecordedInTheModel) {
  TempDir dir;
  const fs::path ds = dir.path() / "ds";
  for (const char* c : {"a", "b"})
    for (int i = 0; i < 6; ++i) write_png(ds / c / (std::to_string(i) + ".png"), (c[0] == 'a' ? 20 : 220) + i);
  const fs::path model = dir.path() / "m.imagefit";
  auto r = run_command(bin() + " train " + q(ds) + " --arch simple-cnn --image-size 16 --epochs 1 -q --resize crop -o " + q(model));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto info = run_command(bin() + " info " + q(model) + " --json");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  auto j = nlohmann::json::parse(info.output);
  EXPECT_EQ(j["network"]["resize"], "crop");
  EXPECT_EQ(j["training"]["resize"], "crop");
  EXPECT_NE(run_command(bin() + " info " + q(model)).output.find("resize crop"), std::string::npos);
  r = run_command(bin() + " train " + q(ds) + " --arch simple-cnn --image-size 16 --epochs 1 -q --resize stretch -o " +
                  q(dir.path() / "m2.imagefit"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("center-crop"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "m2.imagefit"));
}

TEST(Cli, BadUnfreezeIsRefusedBeforeTraining) {
  TempDir dir;
  for (const char* c : {"a", "b"})
    for (int i = 0; i < 3; ++i) write_png(dir.path() / "ds" / c / (std::to_string(i) + ".png"), 40 * i);
  for (const char* bad : {"abc", "0", "-2", "3x"}) {
    auto r = run_command(bin() + " train " + q(dir.path() / "ds") + " -q --unfreeze " + bad + " -o " + q(dir.path() / "m.imagefit"));
    EXPECT_EQ(r.exit_code, 2) << bad;  // a wrong command line
    EXPECT_NE(r.output.find(std::string("--unfreeze ") + bad + ": expected auto, all, or a number"), std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
  }
}

TEST(Cli, EveryCommandHasHelp) {
  for (const char* cmd : {"split", "train", "evaluate", "predict", "info", "augment", "weights", "serve", "export"}) {
    auto r = run_command(bin() + " " + cmd + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << cmd << r.output;
  }
  auto r = run_command(bin() + " train /nonexistent-folder");
  EXPECT_NE(r.exit_code, 0);
}

// In a log (not a terminal) an epoch is one line that says where the run is ("epoch 2/3"), with no
// stray progress line before it, and the last phase says how long it has left at most.
TEST(Cli, EpochLinesInALogSayWhereTheRunIs) {
  TempDir dir;
  for (const char* c : {"a", "b"})
    for (int i = 0; i < 6; ++i) write_png(dir.path() / "ds" / c / (std::to_string(i) + ".png"), (c[0] == 'a' ? 20 : 200) + i);
  auto r = run_command(bin() + " train " + q(dir.path() / "ds") + " --arch simple-cnn --image-size 16 --epochs 3 -o " +
                       q(dir.path() / "m.imagefit"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epoch   1/3 train"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("epoch   3/3 train"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" left"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("\ntrain 1/3"), std::string::npos) << "a stray progress line: " << r.output;
  EXPECT_EQ(r.output.find("\nvalidation"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find('\r'), std::string::npos) << r.output;
}

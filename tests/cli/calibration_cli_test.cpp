// Calibration and test-time augmentation through the binary: train fits T on validation and stores
// it, predict / evaluate / info / the report use it, --calibrate none stores T = 1, --tta's decision
// is recorded.
#include <nlohmann/json.hpp>

#include <cmath>
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

nlohmann::json last_json(const std::string& out) {
  auto pos = out.rfind("\n{");
  return nlohmann::json::parse(out.substr(pos == std::string::npos ? out.find('{') : pos + 1));
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// A small from-scratch model on the shipped sample (a few seconds): well above chance (about 0.6 on
// validation, so TTA changes its accuracy), and T moves its probabilities.
struct Trained {
  TempDir dir;
  fs::path model, data;
  nlohmann::json summary;
  std::string output;
};
Trained& trained() {
  static Trained* t = [] {
    auto* t = new Trained;
    t->model = t->dir.path() / "digits.imagefit";
    t->data = t->dir.path() / "data";  // train/ validation/ test/: the validation images can be evaluated
    auto split = run_command(bin() + " split " + q(source_dir() / "data/sample-sign-digits") + " " + q(t->data) +
                             " --val 0.2 --test 0.2 --seed 0 --mode symlink");
    EXPECT_EQ(split.exit_code, 0) << split.output;
    auto r = run_command(bin() + " train " + q(t->data) + " -o " + q(t->model) +
                         " --arch simple-cnn --image-size 32 --epochs 15 --seed 0 --tta auto --json");
    t->output = r.output;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    t->summary = last_json(r.output);
    return t;
  }();
  return *t;
}

// Label → probability of a predict --json line's top list.
std::map<std::string, double> top_of(const nlohmann::json& line) {
  std::map<std::string, double> m;
  for (const auto& t : line["top"]) m[t["label"].get<std::string>()] = t["probability"].get<double>();
  return m;
}
}  // namespace

TEST(CalibrationCli, TrainStoresTheTemperatureAndPredictUsesIt) {
  auto& t = trained();
  ASSERT_TRUE(t.summary.contains("calibration")) << t.output;
  const auto& cal = t.summary["calibration"];
  const double temperature = cal["temperature"].get<double>();
  EXPECT_GT(temperature, 0.01);
  EXPECT_NE(temperature, 1.0);
  // The fit lowers the validation NLL (it minimises it; T = 1 is one of the candidates).
  EXPECT_LE(cal["nll_after"].get<double>(), cal["nll_before"].get<double>() + 1e-9);
  EXPECT_NE(t.output.find("calibration: temperature"), std::string::npos) << t.output;
  auto info = run_command(bin() + " info " + q(t.model) + " --json");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  const auto meta = nlohmann::json::parse(info.output);
  EXPECT_DOUBLE_EQ(meta["inference"]["temperature"].get<double>(), temperature);
  auto text = run_command(bin() + " info " + q(t.model));
  EXPECT_NE(text.output.find("calibration:"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("validation ECE"), std::string::npos) << text.output;

  // predict's probabilities are softmax(logits / T). The network's own probabilities (T = 1) give
  // the logits up to a constant an image: log p = z − logsumexp(z), and softmax((z − c) / T) = softmax(z / T).
  const fs::path images = source_dir() / "data/sample-sign-digits/3";
  auto cal_run = run_command(bin() + " predict " + q(t.model) + " " + q(images) + " --json --top-k 10 --tta off");
  auto raw_run = run_command(bin() + " predict " + q(t.model) + " " + q(images) + " --json --top-k 10 --tta off --no-calibration");
  ASSERT_EQ(cal_run.exit_code, 0) << cal_run.output;
  ASSERT_EQ(raw_run.exit_code, 0) << raw_run.output;
  const auto calibrated = json_lines(cal_run.output), raw = json_lines(raw_run.output);
  ASSERT_EQ(calibrated.size(), raw.size());
  ASSERT_GE(calibrated.size(), 10u);
  double largest_change = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    ASSERT_EQ(calibrated[i]["path"], raw[i]["path"]);
    const auto p = top_of(raw[i]), c = top_of(calibrated[i]);
    ASSERT_EQ(p.size(), 10u);
    double sum = 0;
    for (const auto& [label, prob] : p) sum += std::exp(std::log(std::max(prob, 1e-30)) / temperature);
    for (const auto& [label, prob] : p) {
      const double expected = std::exp(std::log(std::max(prob, 1e-30)) / temperature) / sum;
      EXPECT_NEAR(c.at(label), expected, 2e-4) << raw[i]["path"] << " " << label;
      largest_change = std::max(largest_change, std::abs(c.at(label) - prob));
    }
  }
  EXPECT_GT(largest_change, 1e-3) << "T should change the probabilities shown";
  // The CSV shows the same calibrated probability.
  auto csv = run_command(bin() + " predict " + q(t.model) + " " + q(images) + " --csv --top-k 1 --tta off");
  ASSERT_EQ(csv.exit_code, 0);
  char expected_first[64];
  std::snprintf(expected_first, sizeof expected_first, "%.6f", calibrated[0]["probability"].get<double>());
  EXPECT_NE(csv.output.find(expected_first), std::string::npos) << csv.output.substr(0, 300);
}

TEST(CalibrationCli, TrainRecordsItsTtaDecisionAndEvaluateReportsCalibration) {
  auto& t = trained();
  const auto& cal = t.summary["calibration"];
  ASSERT_TRUE(cal.contains("tta_decision")) << cal.dump();
  const bool tta = cal["tta"].get<bool>();
  const auto meta = nlohmann::json::parse(run_command(bin() + " info " + q(t.model) + " --json").output);
  EXPECT_EQ(meta["inference"]["tta"].get<bool>(), tta);
  EXPECT_EQ(meta["inference"]["tta_decision"], cal["tta_decision"]);
  EXPECT_GT(meta["inference"]["tta_temperature"].get<double>(), 0.0);
  // auto kept TTA exactly when validation said it helped.
  const double acc = cal["accuracy"].get<double>(), tta_acc = cal["tta_accuracy"].get<double>();
  EXPECT_EQ(tta, tta_acc > acc || (tta_acc == acc && cal["tta_nll"].get<double>() < cal["nll_after"].get<double>()))
      << cal.dump();
  // The two numbers are those of the validation split, without and with TTA, as evaluate measures them
  // (the same batch size and precision as train's calibration pass).
  for (const bool with_tta : {false, true}) {
    auto v = run_command(bin() + " evaluate " + q(t.model) + " " + q(t.data / "validation") + " --json -q --batch-size 64" +
                         (with_tta ? " --tta on" : " --tta off"));
    ASSERT_EQ(v.exit_code, 0) << v.output;
    EXPECT_NEAR(last_json(v.output)["accuracy"].get<double>(), with_tta ? tta_acc : acc, 1e-9) << with_tta;
  }

  const fs::path dir = source_dir() / "data/sample-sign-digits";
  const fs::path report = t.dir.path() / "report";
  auto r = run_command(bin() + " evaluate " + q(t.model) + " " + q(dir) + " --json -q --tta off --report " + q(report));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto ev = last_json(r.output);
  EXPECT_DOUBLE_EQ(ev["calibration"]["temperature"].get<double>(), cal["temperature"].get<double>());
  EXPECT_FALSE(ev["calibration"]["tta"].get<bool>());
  EXPECT_GE(ev["calibration"]["ece_before"].get<double>(), 0.0);
  EXPECT_TRUE(fs::exists(report / "reliability.png"));
  const std::string html = read_file(report / "report.html");
  EXPECT_NE(html.find("id=\"calibration\""), std::string::npos);
  EXPECT_NE(html.find("ECE calibrated"), std::string::npos);
  // With TTA: the same images, the accuracy of the averaged views.
  auto on = run_command(bin() + " evaluate " + q(t.model) + " " + q(dir) + " --json -q --tta on");
  ASSERT_EQ(on.exit_code, 0) << on.output;
  auto ev_on = last_json(on.output);
  EXPECT_TRUE(ev_on["calibration"]["tta"].get<bool>());
  EXPECT_EQ(ev_on["calibration"]["views"], 4);
  EXPECT_EQ(ev_on["count"], ev["count"]);
}

TEST(CalibrationCli, CalibrateNoneStoresTemperatureOneAndBadValuesNameTheOption) {
  TempDir dir;
  const fs::path model = dir.path() / "m.imagefit";
  auto r = run_command(bin() + " train " + q(source_dir() / "data/sample-sign-digits") + " -o " + q(model) +
                       " --arch simple-cnn --image-size 16 --epochs 1 -q --calibrate none --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(last_json(r.output)["calibration"]["temperature"].get<double>(), 1.0);
  const auto meta = nlohmann::json::parse(run_command(bin() + " info " + q(model) + " --json").output);
  EXPECT_EQ(meta["inference"]["temperature"].get<double>(), 1.0);
  EXPECT_EQ(meta["inference"]["calibration"], "none");
  EXPECT_FALSE(meta["inference"]["tta"].get<bool>());  // train --tta's default: off
  for (const std::string bad : {"--calibrate platt", "--tta maybe"}) {
    auto b = run_command(bin() + " train " + q(source_dir() / "data/sample-sign-digits") + " -q " + bad + " -o " +
                         q(dir.path() / "m2.imagefit"));
    EXPECT_EQ(b.exit_code, 2) << bad << b.output;
    EXPECT_NE(b.output.find(bad.substr(0, bad.find(' '))), std::string::npos) << b.output;
  }
  auto p = run_command(bin() + " predict " + q(model) + " " + q(source_dir() / "data/sample-sign-digits/3") + " --tta sometimes");
  EXPECT_EQ(p.exit_code, 2) << p.output;
  EXPECT_NE(p.output.find("--tta"), std::string::npos) << p.output;
}

// evaluate --tta on scores each image as predict --tta on does (the predictor's averaging is checked
// view by view in tests/eval/tta_calibration_test.cpp): its loss is the mean −log of the label's
// probability that predict prints, and its accuracy the share of labels predict ranks first.
TEST(CalibrationCli, EvaluateWithTtaScoresWhatPredictWithTtaPrints) {
  auto& t = trained();
  const fs::path dir = source_dir() / "data/sample-sign-digits";
  auto ev_run = run_command(bin() + " evaluate " + q(t.model) + " " + q(dir) + " --json -q --tta on --precision fp32");
  ASSERT_EQ(ev_run.exit_code, 0) << ev_run.output;
  const auto ev = last_json(ev_run.output);
  auto pr = run_command(bin() + " predict " + q(t.model) + " " + q(dir) + " --json --top-k 10 --tta on --precision fp32");
  ASSERT_EQ(pr.exit_code, 0) << pr.output;
  const auto lines = json_lines(pr.output);
  ASSERT_EQ(lines.size(), ev["count"].get<size_t>());
  double nll = 0, correct = 0;
  for (const auto& line : lines) {
    const std::string truth = fs::path(line["path"].get<std::string>()).parent_path().filename().string();
    nll -= std::log(top_of(line).at(truth));
    correct += line["label"] == truth;
  }
  EXPECT_NEAR(ev["loss"].get<double>(), nll / double(lines.size()), 1e-4);
  EXPECT_NEAR(ev["accuracy"].get<double>(), correct / double(lines.size()), 1e-9);
  EXPECT_TRUE(ev["calibration"]["tta"].get<bool>());
}

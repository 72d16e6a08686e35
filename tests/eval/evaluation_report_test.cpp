// The model's training summary as a person reads it (`imagefit info`, the report's settings table).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>

#include "eval/evaluation_report.h"

using namespace imagefit;

namespace {
std::map<std::string, std::string> as_map(const std::vector<std::pair<std::string, std::string>>& items) {
  return {items.begin(), items.end()};
}
}  // namespace

TEST(TrainingSummary, LabelsInWordsAndRoundedNumbers) {
  const nlohmann::json t = {{"seconds", 36.9735},      {"history_csv", "m.history.csv"}, {"feature_copies", 4},
                            {"head_l2", 0.000123456},  {"batch_size", 32},               {"val_accuracy", 0.9998},
                            {"val_loss", 0.25673512},  {"train_images", 12345},          {"epochs", 0},
                            {"head_solver", "lbfgs"},  {"activation_cache", true},       {"history", "epoch,...\n"},
                            {"weights", ""},           {"plan", "plan: train for 3 epochs\nwhy: no backbone\n"},
                            {"config", "arch = \"simple-cnn\"\n"}, {"a_newer_key", 1.23456789}};
  const auto items = training_summary_items(t);
  const auto m = as_map(items);
  EXPECT_EQ(m.at("training time"), "36.97 s");
  EXPECT_EQ(m.at("history file"), "m.history.csv");
  EXPECT_EQ(m.at("augmented feature copies"), "4");
  EXPECT_EQ(m.at("head L2 strength"), "0.0001235");
  EXPECT_EQ(m.at("batch size"), "32");
  EXPECT_EQ(m.at("val. accuracy"), "99.98%");
  EXPECT_EQ(m.at("val. loss"), "0.2567");
  EXPECT_EQ(m.at("training images"), "12,345");
  EXPECT_EQ(m.at("epochs (option)"), "default");
  EXPECT_EQ(m.at("head solver"), "L-BFGS, to convergence (logistic regression)");
  EXPECT_EQ(m.at("activation cache"), "yes");
  EXPECT_EQ(m.at("plan"), "train for 3 epochs\nwhy: no backbone");
  EXPECT_EQ(m.at("config").find("arch ="), std::string::npos) << "the config is not dumped: " << m.at("config");
  EXPECT_EQ(m.at("a newer key"), "1.235");  // unknown keys: underscores as spaces, rounded
  EXPECT_EQ(m.count("history"), 0u);
  EXPECT_EQ(m.count("pretrained weights"), 0u);  // empty values left out
  for (const auto& [label, value] : items) {
    EXPECT_EQ(label.find('_'), std::string::npos) << label;
    EXPECT_FALSE(std::regex_search(value, std::regex(R"(\d\.[1-9]\d{4,})"))) << label << ": " << value;
  }
  // The reader's order: what it trained on first, results after the settings.
  std::vector<std::string> order;
  for (const auto& kv : items) order.push_back(kv.first);
  auto pos = [&](const std::string& l) { return std::find(order.begin(), order.end(), l) - order.begin(); };
  EXPECT_LT(pos("training images"), pos("batch size"));
  EXPECT_LT(pos("batch size"), pos("val. loss"));
  EXPECT_EQ(order.back(), "a newer key");
}

TEST(TrainingSummary, CreatedIsIso8601AndHeadInWords) {
  EXPECT_TRUE(std::regex_match(created_text({{"created", "1796173897"}}),
                               std::regex(R"(2026-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d)")))
      << created_text({{"created", "1796173897"}});
  EXPECT_EQ(created_text({{"created", "yesterday"}}), "yesterday");
  EXPECT_EQ(created_text(nlohmann::json::object()), "");
  EXPECT_EQ(head_text({{"pooling", "avg"}, {"hidden", 0}, {"dropout", 0.2}, {"classes", 10}}),
            "avg pooling, no hidden layer, dropout 0.2, 10 outputs");
  EXPECT_EQ(head_text({{"pooling", "flatten"}, {"hidden", 1}, {"dropout", 0.5}, {"classes", 2}}),
            "flatten, 1 hidden unit, dropout 0.5, 2 outputs");
}

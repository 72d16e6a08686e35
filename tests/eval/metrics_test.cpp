// Metrics from a known confusion: values computed by hand.
#include "eval/metrics.h"
#include "test_support.h"

using namespace imagefit;

TEST(Metrics, PrecisionRecallF1AndConfusion) {
  // truth:     a a a b b c
  // predicted: a a b b c c
  Metrics m = compute_metrics({"a", "b", "c"}, {0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 2, 2}, 0.5);
  EXPECT_NEAR(m.accuracy, 4.0 / 6, 1e-12);
  EXPECT_EQ(m.confusion, (ConfusionMatrix{{2, 1, 0}, {0, 1, 1}, {0, 0, 1}}));
  EXPECT_NEAR(m.per_class[0].precision, 1.0, 1e-12);
  EXPECT_NEAR(m.per_class[0].recall, 2.0 / 3, 1e-12);
  EXPECT_NEAR(m.per_class[0].f1, 0.8, 1e-12);
  EXPECT_NEAR(m.per_class[1].precision, 0.5, 1e-12);
  EXPECT_NEAR(m.per_class[1].recall, 0.5, 1e-12);
  EXPECT_NEAR(m.per_class[2].precision, 0.5, 1e-12);
  EXPECT_NEAR(m.per_class[2].recall, 1.0, 1e-12);
  EXPECT_EQ(m.per_class[0].support, 3);
  auto j = metrics_to_json(m);
  EXPECT_EQ(j["per_class"].size(), 3u);
  EXPECT_EQ(j["confusion"][0][1], 1);
  const std::string text = metrics_to_text(m);
  EXPECT_NE(text.find("accuracy 0.6667"), std::string::npos) << text;
}

TEST(Metrics, ClassNeverPredictedHasZeroPrecisionNotNaN) {
  Metrics m = compute_metrics({"a", "b"}, {0, 1}, {0, 0}, 0);
  EXPECT_EQ(m.per_class[1].precision, 0);
  EXPECT_EQ(m.per_class[1].f1, 0);
}

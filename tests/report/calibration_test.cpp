// Temperature scaling and expected calibration error (report/calibration.h).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "report/calibration.h"

using namespace imagefit;

namespace {
// n images of c classes: true logits ~ N(0, 2²), labels drawn from softmax(true logits), and the
// logits a model reports = k · true logits (k > 1: over-confident). softmax(k·z / T) is the true
// distribution at T = k, so temperature scaling must find T ≈ k.
ViewLogits synthetic(size_t n, size_t c, double k, std::vector<int>& labels, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0, 2);
  ViewLogits out;
  out.classes = c;
  labels.clear();
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> z(c), p(c);
    double m = -1e300, s = 0;
    for (auto& v : z) v = normal(rng), m = std::max(m, v);
    for (size_t j = 0; j < c; ++j) s += p[j] = std::exp(z[j] - m);
    for (auto& v : p) v /= s;
    labels.push_back(int(std::discrete_distribution<int>(p.begin(), p.end())(rng)));
    for (double v : z) out.values.push_back(float(k * v));
  }
  return out;
}
}  // namespace

TEST(Calibration, TemperatureFitRecoversAKnownScale) {
  for (double k : {3.0, 0.5, 1.0}) {
    std::vector<int> labels;
    const ViewLogits logits = synthetic(20000, 10, k, labels, 7);
    const double t = fit_temperature(logits, labels);
    EXPECT_NEAR(t / k, 1.0, 0.04) << "k " << k << " fitted T " << t;
  }
}

TEST(Calibration, TheFittedTemperatureMinimisesTheNll) {
  std::vector<int> labels;
  const ViewLogits logits = synthetic(3000, 5, 2.2, labels, 3);
  const double t = fit_temperature(logits, labels);
  const double at = temperature_nll(logits, labels, t);
  for (double f : {0.9, 0.99, 1.01, 1.1}) EXPECT_LT(at, temperature_nll(logits, labels, t * f)) << f;
  // An over-confident model: scaling lowers the NLL and the ECE.
  EXPECT_LT(at, temperature_nll(logits, labels, 1.0));
  EXPECT_LT(expected_calibration_error(calibrated_probabilities(logits, t), labels),
            expected_calibration_error(calibrated_probabilities(logits, 1.0), labels) / 2);
}

// The NLL written out here, independently of report/calibration.cpp: −mean log softmax(z / T)[y].
double nll_by_hand(const ViewLogits& l, const std::vector<int>& labels, double t) {
  double sum = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const float* z = l.values.data() + i * l.classes;
    double m = -1e300, s = 0;
    for (size_t k = 0; k < l.classes; ++k) m = std::max(m, z[k] / t);
    for (size_t k = 0; k < l.classes; ++k) s += std::exp(z[k] / t - m);
    sum += m + std::log(s) - z[labels[i]] / t;
  }
  return sum / double(labels.size());
}

TEST(Calibration, TheFittedTemperatureIsTheMinimumOfAFineGridSearch) {
  for (double k : {0.7, 1.8, 4.0}) {
    std::vector<int> labels;
    const ViewLogits logits = synthetic(1000, 6, k, labels, 11);
    const double t = fit_temperature(logits, labels);
    // 6,001 temperatures from 0.05 to 20, log-spaced (steps of 0.1%).
    double best_t = 0, best = 1e300;
    for (int g = 0; g <= 6000; ++g) {
      const double tg = 0.05 * std::pow(400.0, g / 6000.0);
      const double v = nll_by_hand(logits, labels, tg);
      if (v < best) best = v, best_t = tg;
    }
    EXPECT_NEAR(t / best_t, 1.0, 1e-3) << "k " << k;
    EXPECT_LE(nll_by_hand(logits, labels, t), best + 1e-9) << "k " << k;
  }
}

TEST(Calibration, NllIsTheMeanNegativeLogProbabilityOfTheLabel) {
  // One image, logits (0, ln 3): softmax = (1/4, 3/4); at T = 2: (0, ln 3 / 2) → (1/(1+√3), √3/(1+√3)).
  ViewLogits l;
  l.classes = 2;
  l.values = {0.f, float(std::log(3.0))};
  EXPECT_NEAR(temperature_nll(l, {1}, 1.0), -std::log(0.75), 1e-6);
  EXPECT_NEAR(temperature_nll(l, {0}, 2.0), -std::log(1 / (1 + std::sqrt(3.0))), 1e-6);
  // Two views: the probabilities are averaged, then the log taken.
  ViewLogits two;
  two.classes = 2;
  two.views = 2;
  two.values = {0.f, float(std::log(3.0)), 0.f, 0.f};  // view 1: (1/4, 3/4), view 2: (1/2, 1/2)
  EXPECT_NEAR(temperature_nll(two, {1}, 1.0), -std::log((0.75 + 0.5) / 2), 1e-6);
  const auto p = calibrated_probabilities(two, 1.0);
  EXPECT_NEAR(p[0][0], (0.25 + 0.5) / 2, 1e-6);
  EXPECT_NEAR(p[0][1], (0.75 + 0.5) / 2, 1e-6);
  EXPECT_EQ(two.view(1).values, (std::vector<float>{0.f, 0.f}));
}

TEST(Calibration, EceOfAHandMadeExample) {
  // 15 bins of width 1/15 = 0.0667; an image falls in (lo, hi] of its top probability.
  const std::vector<std::vector<float>> p = {
      {0.95f, 0.03f, 0.02f},  // label 0, right, 0.95 → bin 14 (0.933, 1]
      {0.05f, 0.90f, 0.05f},  // label 0, wrong, 0.90 → bin 13 (0.867, 0.933]
      {0.08f, 0.10f, 0.82f},  // label 2, right, 0.82 → bin 12 (0.8, 0.867]
      {0.93f, 0.05f, 0.02f},  // label 1, wrong, 0.93 → bin 13
      {0.41f, 0.34f, 0.25f},  // label 0, right, 0.41 → bin 6 (0.4, 0.467]
      {0.45f, 0.30f, 0.25f},  // label 1, wrong, 0.45 → bin 6
  };
  const std::vector<int> labels = {0, 0, 2, 1, 0, 1};
  // bin 14: 1 image, accuracy 1, confidence 0.95 → gap 0.05
  // bin 13: 2 images, accuracy 0, confidence (0.90 + 0.93) / 2 = 0.915 → gap 0.915
  // bin 12: 1 image, accuracy 1, confidence 0.82 → gap 0.18
  // bin 6:  2 images, accuracy 0.5, confidence (0.41 + 0.45) / 2 = 0.43 → gap 0.07
  // ECE = (1·0.05 + 2·0.915 + 1·0.18 + 2·0.07) / 6 = 2.2 / 6
  EXPECT_NEAR(expected_calibration_error(p, labels), 2.2 / 6, 1e-6);
  const auto bins = reliability_bins(p, labels);
  ASSERT_EQ(bins.size(), 15u);
  EXPECT_EQ(bins[13].count, 2);
  EXPECT_NEAR(bins[13].confidence, 0.915, 1e-6);
  EXPECT_EQ(bins[13].accuracy, 0.0);
  EXPECT_EQ(bins[6].count, 2);
  EXPECT_NEAR(bins[6].accuracy, 0.5, 1e-12);
  EXPECT_NEAR(bins[6].lo, 6.0 / 15, 1e-12);
  int64_t total = 0;
  for (const auto& b : bins) total += b.count;
  EXPECT_EQ(total, 6);
  // Perfectly calibrated in each bin: ECE 0.
  EXPECT_NEAR(expected_calibration_error({{0.5f, 0.5f}, {0.5f, 0.5f}}, {0, 1}), 0.0, 1e-12);
}

TEST(Calibration, BadInputIsAnError) {
  ViewLogits empty;
  empty.classes = 3;
  EXPECT_THROW(fit_temperature(empty, {}), Error);
  ViewLogits one;
  one.classes = 2;
  one.values = {1.f, 2.f};
  EXPECT_THROW(fit_temperature(one, {0, 1}), Error);  // two labels, one image
  EXPECT_THROW(temperature_nll(one, {2}, 1.0), Error);  // label out of range
}

TEST(Calibration, ReliabilityDiagramIsAPng) {
  const std::vector<std::vector<float>> p = {{0.9f, 0.1f}, {0.6f, 0.4f}, {0.3f, 0.7f}};
  const auto bins = reliability_bins(p, {0, 1, 1});
  const auto png = reliability_diagram_png(bins, 0.2, bins, 0.1, 1.5);
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png[1], 'P');
  EXPECT_EQ(png[2], 'N');
  EXPECT_EQ(png[3], 'G');
}

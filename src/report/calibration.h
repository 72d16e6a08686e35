#pragma once
// Probability calibration (torch-free): temperature scaling (Guo et al. 2017, "On Calibration of
// Modern Neural Networks"), expected calibration error and the reliability diagram's bins. Here,
// below train/ and eval/, so that `train` (fits T on validation) and `evaluate` (reports it) share
// one implementation, as report/metrics does for the metrics.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace imagefit {

// Logits of images, each seen in one or more views (test-time augmentation): values holds
// images × views × classes, row-major. A view's probabilities are softmax(logits / T); an image's
// are the mean over its views (the softmax probabilities are averaged, not the logits).
struct ViewLogits {
  size_t classes = 0;
  size_t views = 1;
  std::vector<float> values;
  size_t images() const { return classes && views ? values.size() / (classes * views) : 0; }
  const float* at(size_t image, size_t view) const { return values.data() + (image * views + view) * classes; }
  // Only the given view of each image (a one-view ViewLogits).
  ViewLogits view(size_t v) const;
};

// images × classes probabilities at temperature T (views averaged).
std::vector<std::vector<float>> calibrated_probabilities(const ViewLogits& logits, double temperature);
// Mean negative log-likelihood of the labels at temperature T, computed in log space (double).
double temperature_nll(const ViewLogits& logits, const std::vector<int>& labels, double temperature);

// The temperature T > 0 minimising temperature_nll: a grid over log T in [1/100, 100] then a
// golden-section search around the best grid point (with one view the NLL is convex in 1/T, so this
// is the global minimum). Error when there are no images or labels and logits disagree in count.
double fit_temperature(const ViewLogits& logits, const std::vector<int>& labels);
constexpr double kMinTemperature = 0.01, kMaxTemperature = 100.0;

// One equal-width bin of the top-class confidence: images with lo < confidence <= hi.
struct ReliabilityBin {
  double lo = 0, hi = 0;
  int64_t count = 0;
  double confidence = 0;  // mean top-class probability in the bin (0 when empty)
  double accuracy = 0;    // share of the bin's images whose top class is the label (0 when empty)
};
constexpr int kCalibrationBins = 15;  // as Guo et al.
std::vector<ReliabilityBin> reliability_bins(const std::vector<std::vector<float>>& probabilities,
                                             const std::vector<int>& labels, int bins = kCalibrationBins);
// ECE = sum over bins of (count / N) · |accuracy − confidence|.
double expected_calibration_error(const std::vector<ReliabilityBin>& bins);
double expected_calibration_error(const std::vector<std::vector<float>>& probabilities, const std::vector<int>& labels,
                                  int bins = kCalibrationBins);

// The reliability diagram as a PNG: accuracy against confidence per bin (bars), the diagonal of
// perfect calibration, before (uncalibrated, T = 1) and after temperature scaling side by side.
std::vector<unsigned char> reliability_diagram_png(const std::vector<ReliabilityBin>& before, double ece_before,
                                                   const std::vector<ReliabilityBin>& after, double ece_after,
                                                   double temperature);

}  // namespace imagefit

#pragma once
// Helpers for the report tests: decoding the pictures, colour matching, synthetic histories, and
// the folder where test artefacts (report.html, screenshots) are kept.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/history.h"

namespace imagefit::test {

// Decodes PNG bytes to BGR (fails the test if they do not decode).
inline cv::Mat decode_bgr(const std::vector<unsigned char>& png) {
  cv::Mat m = cv::imdecode(png, cv::IMREAD_COLOR);
  EXPECT_FALSE(m.empty()) << "picture does not decode";
  return m;
}

// Whether a BGR pixel is within `tol` of the colour 0xRRGGBB on every channel.
inline bool near_color(const cv::Vec3b& px, uint32_t rgb, int tol) {
  return std::abs(px[2] - int((rgb >> 16) & 0xff)) <= tol && std::abs(px[1] - int((rgb >> 8) & 0xff)) <= tol &&
         std::abs(px[0] - int(rgb & 0xff)) <= tol;
}

// Pixels of colour `rgb` (± tol) inside `roi`.
inline int count_color(const cv::Mat& bgr, uint32_t rgb, int tol, cv::Rect roi = {}) {
  if (roi.area() == 0) roi = cv::Rect(0, 0, bgr.cols, bgr.rows);
  int n = 0;
  for (int y = roi.y; y < roi.y + roi.height; ++y)
    for (int x = roi.x; x < roi.x + roi.width; ++x) n += near_color(bgr.at<cv::Vec3b>(y, x), rgb, tol);
  return n;
}

// Per column of `roi`, how many pixels have colour `rgb` (± tol).
inline std::vector<int> column_counts(const cv::Mat& bgr, uint32_t rgb, int tol, cv::Rect roi) {
  std::vector<int> counts(roi.width, 0);
  for (int y = roi.y; y < roi.y + roi.height; ++y)
    for (int x = roi.x; x < roi.x + roi.width; ++x) counts[x - roi.x] += near_color(bgr.at<cv::Vec3b>(y, x), rgb, tol);
  return counts;
}

// A plausible training run: losses fall, validation loss bottoms out at `best_epoch` (1-based).
inline History synthetic_history(int epochs, int best_epoch, int phase_change_epoch = 0) {
  History h;
  for (int i = 1; i <= epochs; ++i) {
    EpochRecord r;
    r.epoch = i;
    r.phase = phase_change_epoch > 0 ? (i < phase_change_epoch ? "head" : "fine-tune") : "train";
    double t = double(i) / epochs;
    r.train_loss = 0.7 * std::exp(-3 * t) + 0.05;
    r.train_accuracy = 1 - r.train_loss * 0.6;
    r.val_loss = 0.3 + 0.02 * std::abs(i - best_epoch);
    r.val_accuracy = 0.85 - 0.01 * std::abs(i - best_epoch);
    r.learning_rate = 1e-3;
    r.seconds = 10;
    r.images_per_second = 200;
    h.push_back(r);
  }
  return h;
}

// <build dir>/test-artifacts (the test binary lives in <build dir>/tests/), created if needed.
inline std::filesystem::path artifacts_dir() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::filesystem::path dir = exe.empty() ? std::filesystem::temp_directory_path() : exe.parent_path();
  if (dir.filename() == "tests") dir = dir.parent_path();
  dir /= "test-artifacts";
  std::filesystem::create_directories(dir, ec);
  return dir;
}

// Leftover temporary files (".name.tmp.*") in `dir`.
inline int temp_files_in(const std::filesystem::path& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) ++n;
  return n;
}

}  // namespace imagefit::test

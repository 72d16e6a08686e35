#pragma once
// Helpers for the export tests: networks with realistic random weights, real test images, and
// running an exported ONNX graph with OpenCV DNN (an independent ONNX implementation).
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data/image_io.h"
#include "models/input_tensor.h"
#include "test_support.h"
#include "augment/augmenter.h"
#include "weights/saved_model.h"

namespace imagefit::test {

namespace fs = std::filesystem;

// He-initialized weights (so activations neither vanish nor explode through plain stacks of
// convolutions), BatchNorm statistics measured on `calibration` as training would leave them, and
// random BatchNorm affine parameters (gamma below 1, so that float rounding is not amplified layer
// after layer as in a chaotic random network): every layer's output is of order 1 and depends on
// the image, and BatchNorm matters.
inline void randomize(Classifier& net, const torch::Tensor& calibration, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& m : net->modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2dImpl>()) {
      const int64_t fan_in = conv->weight.size(1) * conv->weight.size(2) * conv->weight.size(3);
      conv->weight.normal_(0, std::sqrt(2.0 / double(fan_in)));
      if (conv->options.bias()) conv->bias.uniform_(-0.1, 0.1);
    } else if (auto* fc = m->as<torch::nn::LinearImpl>()) {
      fc->weight.normal_(0, std::sqrt(2.0 / double(fc->weight.size(1))));
      if (fc->options.bias()) fc->bias.uniform_(-0.1, 0.1);
    } else if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      bn->reset_running_stats();
      bn->options.momentum(c10::nullopt);  // cumulative average: one batch gives its statistics
    }
  }
  net->train();
  net->forward(calibration);
  net->eval();
  for (auto& m : net->modules(/*include_self=*/false)) {
    if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      bn->weight.uniform_(0.5, 1.0);
      bn->bias.uniform_(-0.2, 0.2);
      bn->options.momentum(0.1);
    }
  }
}

struct TestModel {
  NetworkSpec spec;
  Classifier net{nullptr};
};

// Real photographs at `size` (RGB 8-bit): hand signs from the repository's sample data, plus the
// ImageNet-like inputs of ../shared/golden when it is there.
inline std::vector<cv::Mat> test_images(int size) {
  std::vector<fs::path> files;
  const fs::path samples = source_dir() / "data/sample-sign-digits";
  for (const char* digit : {"0", "3", "7"}) {
    std::vector<fs::path> in_class;
    if (fs::exists(samples / digit))
      for (const auto& e : fs::directory_iterator(samples / digit)) in_class.push_back(e.path());
    std::sort(in_class.begin(), in_class.end());
    if (!in_class.empty()) files.push_back(in_class.front());
  }
  const fs::path shared = shared_dir();
  if (!shared.empty())
    for (const char* name : {"cat_224.png", "car_160.png"})
      if (fs::exists(shared / "golden/inputs" / name)) files.push_back(shared / "golden/inputs" / name);
  std::vector<cv::Mat> images;
  for (const auto& f : files) images.push_back(resize_to_input(read_image_rgb(f.string()), size, ResizeMode::Squash));
  if (images.empty()) throw std::runtime_error("no test images found under " + samples.string());
  return images;
}

// A classifier of `arch` at `image_size` with random weights (see randomize, calibrated on the
// test images), 3 classes.
// `normalization`: instead of the architecture's own.
inline TestModel make_model(const std::string& arch, int image_size, double alpha = 1.0,
                            const std::string& pooling = "avg", int64_t hidden = 0,
                            std::optional<Normalization> normalization = std::nullopt) {
  TestModel m;
  m.spec.arch = arch;
  m.spec.image_size = image_size;
  m.spec.backbone.alpha = alpha;
  m.spec.head.pooling = pooling;
  m.spec.head.hidden = hidden;
  m.spec.classes = {"alpha", "beta", "gamma"};
  m.spec.normalization =
      normalization ? *normalization : make_backbone(arch, {alpha, image_size})->input_spec().normalization;
  m.net = build_network(m.spec);
  randomize(m.net, images_to_tensor(test_images(image_size), m.spec.normalization), 1234);
  return m;
}

// The images as imagefit feeds them to its network (normalized).
inline torch::Tensor normalized_batch(const std::vector<cv::Mat>& images, Normalization n) {
  return images_to_tensor(images, n);
}

// The images as plain RGB planes 0..255 (float), what a graph with the normalization inside takes.
inline torch::Tensor pixel_batch(const std::vector<cv::Mat>& images) {
  std::vector<torch::Tensor> planes;
  for (const auto& img : images) {
    auto t = torch::from_blob(img.data, {img.rows, img.cols, 3}, {int64_t(img.step[0]), 3, 1}, torch::kUInt8);
    planes.push_back(t.permute({2, 0, 1}).to(torch::kFloat32));
  }
  return torch::stack(planes).contiguous();
}

inline cv::Mat to_blob(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  std::vector<int> sizes(c.sizes().begin(), c.sizes().end());
  return cv::Mat(int(sizes.size()), sizes.data(), CV_32F, c.data_ptr<float>()).clone();
}

inline torch::Tensor from_blob_2d(const cv::Mat& m) {
  EXPECT_EQ(m.dims, 2);
  return torch::from_blob(const_cast<float*>(m.ptr<float>()), {m.size[0], m.size[1]}, torch::kFloat32).clone();
}

// Runs ONNX bytes with OpenCV DNN; returns the named outputs.
inline std::vector<torch::Tensor> run_opencv(const std::string& onnx_bytes, const torch::Tensor& input,
                                             const std::vector<std::string>& outputs) {
  cv::dnn::Net net = cv::dnn::readNetFromONNX(onnx_bytes.data(), onnx_bytes.size());
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setInput(to_blob(input), "input");
  std::vector<cv::Mat> out;
  std::vector<cv::String> names(outputs.begin(), outputs.end());
  net.forward(out, names);
  std::vector<torch::Tensor> result;
  for (const auto& m : out) result.push_back(from_blob_2d(m));
  return result;
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e30;
  return (a - b).abs().max().item<double>();
}

}  // namespace imagefit::test

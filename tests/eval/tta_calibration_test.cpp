// The predictor's calibration and test-time augmentation (train/tta.h): each checked against the
// model's own outputs computed separately, view by view.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "eval/predictor.h"
#include "models/input_tensor.h"
#include "train/tta.h"
#include "weights/model_file.h"
#include "weights/saved_model.h"

using namespace imagefit;

namespace {
NetworkSpec small_spec() {
  NetworkSpec spec;
  spec.arch = "simple-cnn";
  spec.image_size = 32;
  spec.head.pooling = "flatten";
  spec.classes = {"a", "b", "c", "d"};
  return spec;
}

// A model whose classes depend on where things are in the picture (a random network does).
std::string write_model(const fs::path& dir, const nlohmann::json& inference) {
  NetworkSpec spec = small_spec();
  torch::manual_seed(11);
  Classifier net = build_network(spec);
  // Larger weights than the initialisation: probabilities far from uniform, so T shows.
  torch::NoGradGuard no_grad;
  for (auto& p : net->parameters()) p.mul_(3);
  fs::create_directories(dir);
  const std::string path = (dir / "m.imagefit").string();
  nlohmann::json meta = {{"training", {{"note", "test"}}}};
  if (!inference.is_null()) meta["inference"] = inference;
  save_model(path, spec, meta, net);
  return path;
}

cv::Mat random_image(int size, int seed) {
  cv::Mat m(size, size, CV_8UC3);
  cv::theRNG().state = uint64_t(seed);
  cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(255));
  // Left-right asymmetric: a bright block on the left, so the mirror is a different picture.
  m(cv::Rect(0, 0, size / 3, size)).setTo(cv::Scalar(250, 240, 10));
  return m;
}

std::vector<float> softmax(const torch::Tensor& logits, double t) {
  auto p = torch::softmax(logits.to(torch::kDouble) / t, 1).to(torch::kFloat).contiguous();
  return std::vector<float>(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
}
}  // namespace

TEST(Predictor, ProbabilitiesAreTheSoftmaxOfTheLogitsOverTheModelsTemperature) {
  TempDir dir;
  const std::string path = write_model(dir.path(), {{"temperature", 2.5}, {"tta", false}});
  const cv::Mat image = random_image(32, 1);
  // The raw logits, straight from the network.
  SavedModel model = load_model(path);
  EXPECT_DOUBLE_EQ(model.inference.temperature, 2.5);
  torch::NoGradGuard no_grad;
  const auto logits = model.network->forward(images_to_tensor({image}, model.spec.normalization));
  const auto expected = softmax(logits, 2.5), raw = softmax(logits, 1.0);
  const auto p = Predictor::open(path, "cpu", "fp32")->probabilities({image});
  const auto u = Predictor::open(path, "cpu", "fp32", "auto", false)->probabilities({image});
  ASSERT_EQ(p[0].size(), 4u);
  float differs = 0;
  for (size_t c = 0; c < 4; ++c) {
    EXPECT_NEAR(p[0][c], expected[c], 1e-5) << c;
    EXPECT_NEAR(u[0][c], raw[c], 1e-5) << c;
    differs = std::max(differs, std::abs(expected[c] - raw[c]));
  }
  EXPECT_GT(differs, 0.01) << "the temperature should change these probabilities";
}

TEST(Predictor, AModelWithoutCalibrationMeansTemperatureOne) {
  TempDir dir;
  const std::string path = write_model(dir.path(), nullptr);
  auto predictor = Predictor::open(path, "cpu", "fp32");
  EXPECT_EQ(predictor->temperature(), 1.0);
  EXPECT_FALSE(predictor->tta());
  EXPECT_EQ(load_model(path).inference.temperature, 1.0);
}

TEST(Predictor, AForgedTemperatureIsAnErrorNamingTheFile) {
  TempDir dir;
  for (const nlohmann::json& bad : {nlohmann::json{{"temperature", 0}}, nlohmann::json{{"temperature", -1}},
                                    nlohmann::json{{"temperature", "hot"}}, nlohmann::json{{"tta", "yes"}}}) {
    const std::string path = write_model(dir.path(), bad);
    try {
      load_model(path);
      FAIL() << bad.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("inference"), std::string::npos) << e.what();
    }
  }
}

TEST(Tta, FlipViewsAverageTheImageAndItsMirrorComputedSeparately) {
  TempDir dir;
  const std::string path = write_model(dir.path(), {{"temperature", 1.7}});
  SavedModel model = load_model(path);
  const cv::Mat image = random_image(32, 2);
  cv::Mat mirror;
  cv::flip(image, mirror, 1);
  torch::NoGradGuard no_grad;
  auto logits_of = [&](const cv::Mat& m) { return model.network->forward(images_to_tensor({m}, model.spec.normalization)); };
  const auto a = softmax(logits_of(image), 1.7), b = softmax(logits_of(mirror), 1.7);
  ViewLogits views;
  append_view_logits([&](const torch::Tensor& x) { return model.network->forward(x); },
                     images_to_tensor({image}, model.spec.normalization), {TtaView::Image, TtaView::Mirror}, views);
  ASSERT_EQ(views.views, 2u);
  const auto p = calibrated_probabilities(views, 1.7);
  float differs = 0;
  for (size_t c = 0; c < 4; ++c) {
    EXPECT_NEAR(p[0][c], (a[c] + b[c]) / 2, 1e-5) << c;
    differs = std::max(differs, std::abs(a[c] - b[c]));
  }
  EXPECT_GT(differs, 1e-3) << "the mirror should see a different picture";
}

// The four views made by OpenCV in float, independently of train/tta.cpp: the image, its mirror, the
// central 28×28 (87.5%) resized to 32×32 (bilinear with half-pixel centres, as torch's
// align_corners=false) and that crop's mirror; each run through the network on its own.
TEST(Tta, PredictorWithTtaAveragesItsFourViewsComputedSeparately) {
  TempDir dir;
  const std::string path = write_model(dir.path(), {{"temperature", 1.3}, {"tta", true}, {"tta_temperature", 1.1}});
  const cv::Mat image = random_image(32, 3);
  cv::Mat f, mirror, zoom, zoom_mirror;
  image.convertTo(f, CV_32FC3, 1.0 / 255);  // simple-cnn's normalization: x / 255
  cv::flip(f, mirror, 1);
  cv::resize(f(cv::Rect(2, 2, 28, 28)), zoom, cv::Size(32, 32), 0, 0, cv::INTER_LINEAR);
  cv::flip(zoom, zoom_mirror, 1);
  SavedModel model = load_model(path);
  torch::NoGradGuard no_grad;
  std::vector<float> mean(4, 0.f);
  for (const cv::Mat* view : {&f, &mirror, &zoom, &zoom_mirror}) {
    const cv::Mat v = view->clone();
    const auto x = torch::from_blob(v.data, {1, 32, 32, 3}, torch::kFloat32).permute({0, 3, 1, 2}).contiguous();
    const auto p = softmax(model.network->forward(x), 1.1);  // the model's TTA temperature
    for (size_t c = 0; c < 4; ++c) mean[c] += p[c] / 4;
  }
  auto plain = Predictor::open(path, "cpu", "fp32", "off");  // one view, at the model's T
  EXPECT_FALSE(plain->tta());
  EXPECT_DOUBLE_EQ(plain->temperature(), 1.3);
  auto tta = Predictor::open(path, "cpu", "fp32");  // the model says TTA, with its own temperature
  EXPECT_TRUE(tta->tta());
  EXPECT_DOUBLE_EQ(tta->temperature(), 1.1);
  const auto p = tta->probabilities({image});
  const auto one = softmax(model.network->forward(images_to_tensor({image}, model.spec.normalization)), 1.1);
  float differs = 0;
  for (size_t c = 0; c < 4; ++c) {
    EXPECT_NEAR(p[0][c], mean[c], 1e-5) << c;
    differs = std::max(differs, std::abs(mean[c] - one[c]));
  }
  EXPECT_GT(differs, 1e-3) << "the views should change the prediction";
  EXPECT_THROW(Predictor::open(path, "cpu", "fp32", "maybe"), Error);
}

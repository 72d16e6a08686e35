// The model file: round trip, atomic writes, and clear errors for truncated, corrupt and foreign files.
#include <fstream>

#include <opencv2/core.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "eval/predictor.h"
#include "test_support.h"
#include "weights/model_file.h"
#include "weights/saved_model.h"

using namespace imagefit;

namespace {
NetworkSpec small_spec() {
  NetworkSpec spec;
  spec.arch = "simple-cnn";
  spec.image_size = 32;
  spec.head.pooling = "flatten";
  spec.classes = {"a", "b", "c"};
  return spec;
}

std::string write_model(const fs::path& dir) {
  NetworkSpec spec = small_spec();
  Classifier net = build_network(spec);
  const std::string path = (dir / "m.imagefit").string();
  save_model(path, spec, {{"training", {{"note", "test"}}}}, net);
  return path;
}

void expect_error_mentioning(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL() << "expected an imagefit::Error";
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(ModelFile, RoundTripKeepsWeightsAndMetadata) {
  TempDir dir;
  NetworkSpec spec = small_spec();
  Classifier net = build_network(spec);
  const std::string path = (dir.path() / "m.imagefit").string();
  save_model(path, spec, {{"training", {{"note", "hello"}}}}, net);
  SavedModel loaded = load_model(path);
  EXPECT_EQ(loaded.spec.classes, spec.classes);
  EXPECT_EQ(loaded.spec.image_size, 32);
  EXPECT_EQ(loaded.metadata["training"]["note"], "hello");
  EXPECT_EQ(loaded.metadata["format_version"], kModelFormatVersion);
  auto a = state_dict_of(*net), b = state_dict_of(*loaded.network);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
  torch::NoGradGuard ng;
  net->eval();
  auto x = torch::rand({2, 3, 32, 32});
  EXPECT_TRUE(torch::allclose(net->forward(x), loaded.network->forward(x)));
}

TEST(ModelFile, TruncatedFileIsAClearError) {
  TempDir dir;
  const std::string path = write_model(dir.path());
  const std::string bytes = read_file(path);
  for (size_t keep : {size_t(10), size_t(100), bytes.size() / 2, bytes.size() - 1}) {
    const std::string cut = (dir.path() / "cut.imagefit").string();
    atomic_write_text(cut, bytes.substr(0, keep));
    expect_error_mentioning([&] { load_model(cut); }, {cut});
  }
  const std::string cut = (dir.path() / "cut.imagefit").string();
  atomic_write_text(cut, bytes.substr(0, bytes.size() / 2));
  expect_error_mentioning([&] { load_model(cut); }, {"truncated"});
}

TEST(ModelFile, CorruptByteIsDetected) {
  TempDir dir;
  const std::string path = write_model(dir.path());
  std::string bytes = read_file(path);
  bytes[bytes.size() / 2] ^= 0x5A;
  atomic_write_text(path, bytes);
  expect_error_mentioning([&] { load_model(path); }, {path, "corrupt"});
}

TEST(ModelFile, ForeignFileIsRejected) {
  TempDir dir;
  const std::string path = (dir.path() / "photo.jpg").string();
  atomic_write_text(path, std::string("\xFF\xD8\xFF\xE0 not a model at all, just some bytes........", 48));
  expect_error_mentioning([&] { load_model(path); }, {path, "not an imagefit model file"});
  expect_error_mentioning([&] { read_model_metadata(path); }, {path});
}

TEST(ModelFile, SaveIsAtomicAndLeavesNoTemporaryFiles) {
  TempDir dir;
  const std::string path = write_model(dir.path());
  const auto before = read_file(path);
  // A failing writer must leave the previous file untouched and no temporary file behind.
  EXPECT_THROW(atomic_write(path, [](std::ostream&) { throw Error("disk on fire"); }), Error);
  EXPECT_EQ(read_file(path), before);
  int files = 0;
  for (auto& e : fs::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

// --resize travels in the model file, and prediction resizes as the model was trained: a model
// saved with `crop` sees a wide image as its centered square.
TEST(ModelFile, ResizeModeIsKeptAndUsedForPrediction) {
  TempDir dir;
  NetworkSpec spec = small_spec();
  torch::manual_seed(3);
  Classifier net = build_network(spec);
  const std::string squash_path = (dir.path() / "squash.imagefit").string();
  const std::string crop_path = (dir.path() / "crop.imagefit").string();
  save_model(squash_path, spec, {}, net);
  spec.resize = ResizeMode::Crop;
  save_model(crop_path, spec, {}, net);
  EXPECT_EQ(load_model(crop_path).spec.resize, ResizeMode::Crop);
  EXPECT_EQ(load_model(squash_path).spec.resize, ResizeMode::Squash);
  // A model description without the key (written before --resize existed) means squash.
  auto j = spec_to_json(spec);
  j.erase("resize");
  EXPECT_EQ(spec_from_json(j, "old").resize, ResizeMode::Squash);
  j["resize"] = "stretch";
  expect_error_mentioning([&] { spec_from_json(j, "bad"); }, {"stretch", "center-crop"});

  cv::Mat wide(40, 120, CV_8UC3, cv::Scalar::all(255));  // white sides, a random center square
  cv::Mat center = wide(cv::Rect(40, 0, 40, 40));
  cv::randu(center, cv::Scalar::all(0), cv::Scalar::all(255));
  const cv::Mat square = wide(cv::Rect(40, 0, 40, 40)).clone();
  auto by_crop = Predictor::open(crop_path, "cpu")->probabilities({wide});
  auto by_squash_of_square = Predictor::open(squash_path, "cpu")->probabilities({square});
  auto by_squash_of_wide = Predictor::open(squash_path, "cpu")->probabilities({wide});
  ASSERT_EQ(by_crop[0].size(), 3u);
  float same = 0, differ = 0;
  for (size_t c = 0; c < 3; ++c) {
    same = std::max(same, std::abs(by_crop[0][c] - by_squash_of_square[0][c]));
    differ = std::max(differ, std::abs(by_crop[0][c] - by_squash_of_wide[0][c]));
  }
  EXPECT_EQ(same, 0.0f);     // the very same network input
  EXPECT_GT(differ, 1e-6f);  // the mode matters: squashing the whole wide image gives another answer
}

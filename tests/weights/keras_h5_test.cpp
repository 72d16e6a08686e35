// The Keras .h5 loader on the real files in ../shared/weights/keras, and on broken ones.
#include <gtest/gtest.h>

#if __has_include(<hdf5.h>)
#include <hdf5.h>
#else
#include <hdf5/serial/hdf5.h>  // Debian's serial HDF5
#endif

#include <unistd.h>

#include <fstream>

#include "core/error.h"
#include "models/keras_mobilenet_v1.h"
#include "models/keras_mobilenet_v2.h"
#include "test_support.h"
#include "weights/keras_h5.h"
#include "weights/state_dict.h"

namespace imagefit {
namespace {

namespace fs = std::filesystem;

const char* kTeachable = "weights/keras/teachable_machine_mobilenet_v2_0.35_224.h5";
const char* kTeachableB = "weights/keras/teachable_machine_mobilenet_v2_0.35_224_b.h5";
const char* kMobileNetV1 = "weights/keras/mobilenet_2_5_224_tf_no_top.h5";

std::string shared_file(const char* relative) { return (test::shared_dir() / relative).string(); }

// A fresh temporary directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("imagefit_keras_h5_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// The Error `f` throws; fails the test if it throws nothing or something else.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected imagefit::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected imagefit::Error, nothing was thrown";
  return "";
}

std::string with_thousands(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

int64_t tensor_count(const StateDict& sd) {
  int64_t n = 0;
  for (const auto& [name, t] : sd)
    if (name.find("num_batches_tracked") == std::string::npos) n += t.numel();
  return n;
}

// Writes a tiny HDF5 file with the C API: one layer group "dense_1" with a 2×3 "kernel:0".
void write_hdf5_without_backbone(const fs::path& path, bool with_dataset) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t group = H5Gcreate2(file, "dense_1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(group, 0);
  if (with_dataset) {
    const hsize_t dims[2] = {2, 3};
    const float values[6] = {1, 2, 3, 4, 5, 6};
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t ds = H5Dcreate2(group, "kernel:0", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(ds, 0);
    ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), 0);
    H5Dclose(ds);
    H5Sclose(space);
  }
  H5Gclose(group);
  H5Fclose(file);
}

void write_prefix(const std::string& from, const fs::path& to, size_t bytes) {
  std::ifstream in(from, std::ios::binary);
  std::vector<char> data(bytes);
  in.read(data.data(), static_cast<std::streamsize>(bytes));
  ASSERT_EQ(static_cast<size_t>(in.gcount()), bytes);
  std::ofstream out(to, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(bytes));
}

TEST(KerasH5, BothTeachableMachineExportsGiveTheSameBackbone) {
  IMAGEFIT_REQUIRE_SHARED(kTeachable);
  IMAGEFIT_REQUIRE_SHARED(kTeachableB);
  // The two files nest the backbone under different groups (sequential_9/ and sequential_1/) and
  // carry different dense heads.
  const KerasBackboneWeights a = read_keras_backbone(shared_file(kTeachable));
  const KerasBackboneWeights b = read_keras_backbone(shared_file(kTeachableB));
  ASSERT_EQ(a.weights.size(), b.weights.size());
  std::map<std::string, torch::Tensor> bmap(b.weights.begin(), b.weights.end());
  for (const auto& [name, t] : a.weights) {
    EXPECT_EQ(name.find("dense"), std::string::npos) << "the dense head is not part of the backbone: " << name;
    ASSERT_TRUE(bmap.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, bmap[name])) << name;
  }

  const Pretrained pa = load_pretrained(shared_file(kTeachable));
  const Pretrained pb = load_pretrained(shared_file(kTeachableB));
  const StateDict sa = state_dict_of(*pa.backbone), sb = state_dict_of(*pb.backbone);
  ASSERT_EQ(sa.size(), sb.size());
  bool any_nonzero = false;
  for (size_t i = 0; i < sa.size(); ++i) {
    ASSERT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
    any_nonzero = any_nonzero || sa[i].second.abs().sum().item<double>() > 0;
  }
  EXPECT_TRUE(any_nonzero);
  // The file's values really went in, converted: Keras HWIO (3,3,3,16) → OIHW (16,3,3,3).
  std::map<std::string, torch::Tensor> loaded(sa.begin(), sa.end());
  std::map<std::string, torch::Tensor> file(a.weights.begin(), a.weights.end());
  EXPECT_TRUE(torch::equal(loaded["Conv1.weight"], file["Conv1.weight"]));
  EXPECT_EQ(loaded["Conv1.weight"].sizes().vec(), (std::vector<int64_t>{16, 3, 3, 3}));
  EXPECT_TRUE(torch::equal(loaded["block_5_depthwise_BN.running_var"], file["block_5_depthwise_BN.running_var"]));
}

TEST(KerasH5, KernelLayoutConversion) {
  IMAGEFIT_REQUIRE_SHARED(kTeachable);
  // Compare with the raw HWIO / HWC1 values read through the HDF5 C API.
  const std::string path = shared_file(kTeachable);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  auto read = [&](const char* name, std::vector<float>& out) {
    const hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    ASSERT_GE(ds, 0) << name;
    const hid_t space = H5Dget_space(ds);
    out.resize(static_cast<size_t>(H5Sget_simple_extent_npoints(space)));
    ASSERT_GE(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), 0);
    H5Sclose(space);
    H5Dclose(ds);
  };
  std::vector<float> conv, depthwise;
  read("model_weights/sequential_9/Conv1/kernel:0", conv);                             // 3,3,3,16
  read("model_weights/sequential_9/block_1_depthwise/depthwise_kernel:0", depthwise);  // 3,3,48,1
  H5Fclose(file);
  const KerasBackboneWeights w = read_keras_backbone(path);
  std::map<std::string, torch::Tensor> m(w.weights.begin(), w.weights.end());
  const auto c = m["Conv1.weight"];  // O,I,H,W
  ASSERT_EQ(c.sizes().vec(), (std::vector<int64_t>{16, 3, 3, 3}));
  for (int o = 0; o < 16; o += 5)
    for (int i = 0; i < 3; ++i)
      for (int h = 0; h < 3; ++h)
        for (int x = 0; x < 3; ++x) EXPECT_EQ(c[o][i][h][x].item<float>(), conv[((h * 3 + x) * 3 + i) * 16 + o]);
  const auto d = m["block_1_depthwise.weight"];  // C,1,H,W
  ASSERT_EQ(d.sizes().vec(), (std::vector<int64_t>{48, 1, 3, 3}));
  for (int ch = 0; ch < 48; ch += 7)
    for (int h = 0; h < 3; ++h)
      for (int x = 0; x < 3; ++x) EXPECT_EQ(d[ch][0][h][x].item<float>(), depthwise[(h * 3 + x) * 48 + ch]);
}

TEST(KerasH5, RecognisesArchitectureAndAlpha) {
  IMAGEFIT_REQUIRE_SHARED(kTeachable);
  IMAGEFIT_REQUIRE_SHARED(kMobileNetV1);
  const Pretrained v2 = load_pretrained(shared_file(kTeachable));
  EXPECT_EQ(v2.arch, "keras-mobilenet-v2");
  EXPECT_DOUBLE_EQ(v2.options.alpha, 0.35);
  EXPECT_EQ(v2.backbone->arch(), "keras-mobilenet-v2");
  EXPECT_EQ(v2.backbone->feature_channels(), 1280);
  EXPECT_FALSE(v2.backbone->is_training());
  const int64_t v2_count = tensor_count(state_dict_of(*v2.backbone));
  EXPECT_EQ(v2_count, 410208);  // shared/README.md: 410,208 backbone parameters
  EXPECT_EQ(v2.description, "Keras MobileNetV2 alpha=0.35 (" + with_thousands(v2_count) + " parameters)");

  const Pretrained v1 = load_pretrained(shared_file(kMobileNetV1));
  EXPECT_EQ(v1.arch, "keras-mobilenet-v1");
  EXPECT_DOUBLE_EQ(v1.options.alpha, 0.25);
  EXPECT_EQ(v1.backbone->feature_channels(), 256);  // shared/README.md: pooled feature size 256
  EXPECT_EQ(v1.description, "Keras MobileNet V1 alpha=0.25 (" +
                                with_thousands(tensor_count(state_dict_of(*v1.backbone))) + " parameters)");

  // Hints that agree are accepted.
  EXPECT_EQ(load_pretrained(shared_file(kTeachable), "keras-mobilenet-v2").arch, "keras-mobilenet-v2");
  EXPECT_EQ(load_pretrained(shared_file(kTeachable), "keras-mobilenet-v2:alpha=0.35").options.alpha, 0.35);
  EXPECT_EQ(load_pretrained(shared_file(kMobileNetV1), "keras-mobilenet-v1:alpha=0.25").arch, "keras-mobilenet-v1");
}

TEST(KerasH5, ArchHintThatDisagreesIsAnError) {
  IMAGEFIT_REQUIRE_SHARED(kTeachable);
  IMAGEFIT_REQUIRE_SHARED(kMobileNetV1);
  std::string msg = error_of([] { load_pretrained(shared_file(kTeachable), "keras-mobilenet-v1"); });
  EXPECT_NE(msg.find(shared_file(kTeachable)), std::string::npos) << msg;
  EXPECT_NE(msg.find("keras-mobilenet-v2"), std::string::npos) << msg;
  msg = error_of([] { load_pretrained(shared_file(kMobileNetV1), "keras-mobilenet-v2"); });
  EXPECT_NE(msg.find(shared_file(kMobileNetV1)), std::string::npos) << msg;
  EXPECT_NE(msg.find("keras-mobilenet-v1"), std::string::npos) << msg;
  msg = error_of([] { load_pretrained(shared_file(kTeachable), "resnet18"); });
  EXPECT_NE(msg.find("resnet18"), std::string::npos) << msg;
  msg = error_of([] { load_pretrained(shared_file(kTeachable), "keras-mobilenet-v2:alpha=big"); });
  EXPECT_NE(msg.find("alpha=big"), std::string::npos) << msg;
}

TEST(KerasH5, WrongAlphaHintFailsListingNames) {
  IMAGEFIT_REQUIRE_SHARED(kTeachable);
  // The first parameter whose shape differs between alpha 0.35 and 0.5 must be named.
  KerasMobileNetV2Impl a035(0.35), a050(0.5);
  const StateDict s035 = state_dict_of(a035), s050 = state_dict_of(a050);
  std::string first_different;
  for (size_t i = 0; i < s035.size() && first_different.empty(); ++i)
    if (!s035[i].second.sizes().equals(s050[i].second.sizes())) first_different = s035[i].first;
  ASSERT_FALSE(first_different.empty());

  const std::string msg = error_of([] { load_pretrained(shared_file(kTeachable), "keras-mobilenet-v2:alpha=0.5"); });
  EXPECT_NE(msg.find(shared_file(kTeachable)), std::string::npos) << msg;
  EXPECT_NE(msg.find("alpha=0.35"), std::string::npos) << msg;
  EXPECT_NE(msg.find("shape mismatch"), std::string::npos) << msg;
  EXPECT_NE(msg.find(first_different), std::string::npos) << msg;
}

TEST(KerasH5, MobileNetV1WeightsDoNotLoadIntoMobileNetV2) {
  IMAGEFIT_REQUIRE_SHARED(kMobileNetV1);
  const KerasBackboneWeights w = read_keras_backbone(shared_file(kMobileNetV1));
  EXPECT_EQ(w.arch, "keras-mobilenet-v1");
  KerasMobileNetV2Impl v2(w.alpha);
  const std::string msg = error_of([&] { load_state_dict(v2, w.weights, shared_file(kMobileNetV1)); });
  EXPECT_NE(msg.find(shared_file(kMobileNetV1)), std::string::npos) << msg;
  EXPECT_NE(msg.find("Conv1.weight"), std::string::npos) << msg;  // missing from the file
  EXPECT_NE(msg.find("conv1.weight"), std::string::npos) << msg;  // not used by the model
  // And with the right architecture but the wrong width, the shapes are named.
  KerasMobileNetV1Impl wide(0.5);
  const std::string msg2 = error_of([&] { load_state_dict(wide, w.weights, shared_file(kMobileNetV1)); });
  EXPECT_NE(msg2.find("shape mismatch"), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("conv1.weight"), std::string::npos) << msg2;
}

TEST(KerasH5, NotHdf5IsAnErrorNamingTheFile) {
  TempDir dir;
  const fs::path path = dir / "model.h5";
  std::ofstream(path) << "this is not an HDF5 file, just some text\n";
  std::string msg = error_of([&] { load_keras_backbone(path.string(), ""); });
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("not an HDF5 file"), std::string::npos) << msg;
  msg = error_of([&] { load_pretrained(path.string()); });
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  msg = error_of([&] { load_keras_backbone((dir / "missing.h5").string(), ""); });
  EXPECT_NE(msg.find("missing.h5"), std::string::npos) << msg;
}

TEST(KerasH5, TruncatedFileIsAnErrorNamingTheFile) {
  IMAGEFIT_REQUIRE_SHARED(kTeachable);
  TempDir dir;
  const std::string source = shared_file(kTeachable);
  const size_t size = fs::file_size(source);
  for (size_t bytes : {size_t{100}, size / 4, size / 2, size - 1}) {
    SCOPED_TRACE("truncated to " + std::to_string(bytes) + " bytes");
    const fs::path path = dir / ("truncated_" + std::to_string(bytes) + ".h5");
    write_prefix(source, path, bytes);
    const std::string msg = error_of([&] { load_pretrained(path.string()); });
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  }
}

TEST(KerasH5, Hdf5WithoutBackboneIsAnErrorNamingTheFile) {
  TempDir dir;
  const fs::path head_only = dir / "head_only.h5";
  write_hdf5_without_backbone(head_only, true);
  std::string msg = error_of([&] { load_pretrained(head_only.string()); });
  EXPECT_NE(msg.find(head_only.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("no known Keras backbone"), std::string::npos) << msg;
  EXPECT_NE(msg.find("dense_1"), std::string::npos) << msg;  // says what it found instead

  const fs::path empty = dir / "empty.h5";
  write_hdf5_without_backbone(empty, false);
  msg = error_of([&] { load_pretrained(empty.string()); });
  EXPECT_NE(msg.find(empty.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("no known Keras backbone"), std::string::npos) << msg;
}

}  // namespace
}  // namespace imagefit

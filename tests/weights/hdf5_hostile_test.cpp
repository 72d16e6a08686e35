// Forged HDF5 files (weights/hdf5_file.cpp): sizes and storage are checked before HDF5 or imagefit
// allocates, and the group tree is walked without HDF5's recursion. The regress_* files are what
// fuzz_keras_h5 found (fuzz/corpus/keras_h5/); the others are written here with the HDF5 C API.
#include <gtest/gtest.h>

#if __has_include(<hdf5.h>)
#include <hdf5.h>
#else
#include <hdf5/serial/hdf5.h>  // Debian's serial HDF5
#endif
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "test_support.h"
#include "weights/hdf5_file.h"
#include "weights/keras_h5.h"

namespace imagefit {
namespace {

namespace fs = std::filesystem;

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected imagefit::Error, nothing was thrown";
  return "";
}

class Hdf5Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("imagefit-hdf5-hostile-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A file with one float32 dataset "w" of `count` values, made by `configure` (the creation
  // property list) and written with `values` unless that is empty.
  std::string write(const std::string& name, hsize_t count, const std::vector<float>& values,
                    void (*configure)(hid_t dcpl, hsize_t count)) {
    const std::string path = (dir_ / name).string();
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t space = H5Screate_simple(1, &count, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    configure(dcpl, count);
    const hid_t ds = H5Dcreate2(file, "w", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    EXPECT_GE(ds, 0);
    if (!values.empty()) EXPECT_GE(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
    return path;
  }
  fs::path dir_;
};

// Found by fuzz_keras_h5: a float type whose size field says 4,294,965,252 bytes an element; H5Dread
// allocated 4 GB for a 36-value dataset.
TEST_F(Hdf5Hostile, AForgedFloatTypeSizeIsRefusedBeforeReading) {
  const std::string path = (test::source_dir() / "fuzz/corpus/keras_h5/regress_float_type_4gib").string();
  ASSERT_TRUE(fs::exists(path)) << path;
  const std::string msg = error_of([&] { read_keras_backbone(path); });
  EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
  EXPECT_NE(msg.find("has a float type of 4294965252 bytes (expected 2, 4 or 8)"), std::string::npos) << msg;
}

// Found by fuzz_keras_h5: a group linked into itself with a link count of 1. HDF5's H5Lvisit tracks
// only objects whose count is above 1: it recursed 55,000 calls deep and the program segfaulted.
TEST_F(Hdf5Hostile, AGroupLinkedIntoItselfEndsWithAnError) {
  const std::string path = (test::source_dir() / "fuzz/corpus/keras_h5/regress_hdf5_group_cycle").string();
  ASSERT_TRUE(fs::exists(path)) << path;
  const std::string msg = error_of([&] { read_keras_backbone(path); });
  EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
}

// The same loop written by HDF5 itself (a hard link back to the group, so a count of 2), and a
// dataset linked twice: each object is listed once.
TEST_F(Hdf5Hostile, LoopsAndSecondLinksAreVisitedOnce) {
  const std::string path = (dir_ / "loop.h5").string();
  {
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t g = H5Gcreate2(file, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t n = 2;
    const float values[2] = {1, 2};
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const hid_t ds = H5Dcreate2(g, "w", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    EXPECT_GE(H5Lcreate_hard(file, "g", g, "back", H5P_DEFAULT, H5P_DEFAULT), 0);
    EXPECT_GE(H5Lcreate_hard(g, "w", file, "w_again", H5P_DEFAULT, H5P_DEFAULT), 0);
    H5Dclose(ds);
    H5Sclose(space);
    H5Gclose(g);
    H5Fclose(file);
  }
  Hdf5File f(path);
  const auto datasets = f.datasets();
  ASSERT_EQ(datasets.size(), 1u);
  EXPECT_EQ(datasets[0].path, "g/w");
  EXPECT_EQ(datasets[0].shape, std::vector<int64_t>{2});
}

// Found by fuzz_keras_h5: a forged local heap on which libhdf5 itself segfaults (a NULL buffer
// copied from, in H5F__accum_read). A child process reads the file first: its crash is this error.
TEST_F(Hdf5Hostile, AFileOnWhichHdf5CrashesIsAnError) {
  const std::string path = (test::source_dir() / "fuzz/corpus/keras_h5/regress_hdf5_heap_segv").string();
  ASSERT_TRUE(fs::exists(path)) << path;
  const std::string msg = error_of([&] { read_keras_backbone(path); });
  EXPECT_EQ(msg.rfind(path + ": cannot read this HDF5 file, it is damaged or forged (the HDF5 library crashed on it: ",
                      0),
            0u)
      << msg;
}

// A dataset declared with 2^31 values and never written stores nothing: reading it allocated 8 GB.
TEST_F(Hdf5Hostile, ADatasetLargerThanItsStorageIsRefused) {
  const std::string path = write("unwritten.h5", hsize_t(1) << 31, {}, [](hid_t dcpl, hsize_t) {
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE);
  });
  EXPECT_LT(fs::file_size(path), 100000u);
  Hdf5File f(path);
  const std::string msg = error_of([&] { f.read_floats("w"); });
  EXPECT_NE(msg.find("declares 2147483648 values (8589934592 bytes) but the file stores 0 bytes"), std::string::npos)
      << msg;
}

// External raw storage would read another file of this machine as the weights.
TEST_F(Hdf5Hostile, ExternalStorageIsRefused) {
  const std::string path = write("external.h5", 4, {}, [](hid_t dcpl, hsize_t count) {
    H5Pset_external(dcpl, "/etc/hostname", 0, count * 4);
  });
  Hdf5File f(path);
  const std::string msg = error_of([&] { f.read_floats("w"); });
  EXPECT_NE(msg.find("keeps its values outside this file"), std::string::npos) << msg;
}

// The bounds leave real files alone: contiguous data, and compressed data well under deflate's ratio.
TEST_F(Hdf5Hostile, StoredAndCompressedDatasetsStillLoad) {
  std::vector<float> values(100000, 0.0f);
  values[7] = 1.5f;
  const std::string plain = write("plain.h5", values.size(), values, [](hid_t, hsize_t) {});
  const std::string deflated = write("deflated.h5", values.size(), values, [](hid_t dcpl, hsize_t count) {
    H5Pset_chunk(dcpl, 1, &count);
    H5Pset_deflate(dcpl, 9);
  });
  EXPECT_LT(fs::file_size(deflated), values.size() * 4 / 50);  // compressed more than 50:1
  for (const std::string& path : {plain, deflated}) {
    Hdf5File f(path);
    EXPECT_EQ(f.read_floats("w"), values) << path;
  }
}

}  // namespace
}  // namespace imagefit

// The Keras .h5 reader (weights/keras_h5.cpp over weights/hdf5_file.cpp) on arbitrary bytes: the
// backbone lookup, layer walk and float reads. HDF5 opens files by path, so the input goes to a file
// in /dev/shm first.
#include "fuzz_support.h"
#include "weights/keras_h5.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = imagefit::fuzz::write_input(data, size, ".h5");
  imagefit::fuzz::expect_load_or_error([&] { imagefit::read_keras_backbone(path); });
  return 0;
}

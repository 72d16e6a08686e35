// The Keras .h5 reader (weights/keras_h5.cpp over weights/hdf5_file.cpp) on arbitrary bytes: the
// backbone lookup, layer walk and float reads. HDF5 opens files by path, so the input goes to a file
// in /dev/shm first.
#include "fuzz_support.h"
#include "weights/keras_h5.h"

// For this target only (ASAN_OPTIONS still override each):
// - libhdf5 (Debian's, not instrumented) mallocs sizes it reads from a damaged file's metadata, e.g.
//   a local heap of 0xda00000000000058 bytes (fuzz/corpus/keras_h5/regress_hdf5_heap_size), and
//   handles the NULL that glibc returns with an error, which imagefit reports. ASan aborts on such a
//   request instead, unless allowed to return NULL as glibc does. C++ allocations (operator new: all
//   of imagefit's) are still reported, and libFuzzer's -malloc_limit_mb still reports any malloc over
//   its limit that does succeed.
// - fuzz/hdf5.supp: libhdf5's own out-of-bounds reads on damaged files, one HDF5 function a line.
// - a 16 MB quarantine (ASan's default: 256): Hdf5File forks a child to read each input first
//   (weights/hdf5_file.cpp), and a smaller heap makes that fork cheaper (62 instead of 40
//   executions a second here), at the cost of a shorter window for finding a use after free.
// (A sanitizer's report in that child aborts this process too; a plain crash of libhdf5 there is
// the loader's Error.)
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1:quarantine_size_mb=16:suppressions=" IMAGEFIT_HDF5_SUPPRESSIONS;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = imagefit::fuzz::write_input(data, size, ".h5");
  imagefit::fuzz::expect_load_or_error([&] { imagefit::read_keras_backbone(path); });
  return 0;
}

// The PyTorch .pth reader (weights/torchvision_pth.cpp: zip archive or legacy stream, then the
// pickle reader and the storages) on arbitrary bytes, read from a file in /dev/shm as read_pth does.
#include "fuzz_support.h"
#include "weights/torchvision_pth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = imagefit::fuzz::write_input(data, size, ".pth");
  imagefit::fuzz::expect_load_or_error([&] { imagefit::read_pth(path); });
  return 0;
}

// Image decoding from memory (data/image_io.cpp decode_image_rgb: the JPEG truncation check, OpenCV's
// decoders, the conversion to 8-bit RGB), as serve decodes an upload and train a file.
#include <vector>

#include "data/image_io.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<unsigned char> bytes(data, data + size);
  imagefit::fuzz::expect_load_or_error([&] { imagefit::decode_image_rgb(bytes, "fuzz.img"); });
  return 0;
}

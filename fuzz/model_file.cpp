// The imagefit model-file loader (weights/model_file.cpp) on arbitrary bytes. Each input is tried as
// it is and with its FNV-1a trailer recomputed, as a forger would: without that, nearly every mutation
// stops at the checksum and the header, tensor index and metadata checks behind it go unfuzzed.
#include <cstring>

#include "fuzz_support.h"
#include "weights/model_file.h"
#include "weights/saved_model.h"

namespace {
uint64_t fnv1a(const char* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ull;
  return h;
}

void load(const std::string& bytes) {
  imagefit::fuzz::expect_load_or_error([&] {
    imagefit::ModelFile mf = imagefit::parse_model_file(bytes, "fuzz.imagefit");
    // What load_model does next with a description that passed the checks.
    if (mf.metadata.contains("network")) imagefit::spec_from_json(mf.metadata["network"], "fuzz.imagefit");
    (void)mf.metadata.dump();  // imagefit info --json
  });
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  load(bytes);
  if (size >= 40) {
    const uint64_t h = fnv1a(bytes.data(), size - 16);
    std::memcpy(&bytes[size - 16], &h, 8);
    std::memcpy(&bytes[size - 8], "IFITEND\n", 8);
    load(bytes);
  }
  return 0;
}

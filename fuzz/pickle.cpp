// The unpickler alone (weights/pickle_reader.cpp), from memory: much faster than going through a
// file, so it reaches the opcode handling deeper. Reads pickles one after another as the legacy
// .pth format does, and describes what it got as error messages do.
#include "fuzz_support.h"
#include "weights/pickle_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imagefit::pickle::Unpickler u(data, size, "fuzz.pkl");
  imagefit::fuzz::expect_load_or_error([&] {
    for (int i = 0; i < 8 && u.position() < size; ++i) (void)imagefit::pickle::describe(*u.load());
  });
  return 0;
}

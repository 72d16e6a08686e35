#pragma once
// Shared by the fuzz targets: the contract under test is that any input either loads or fails with an
// imagefit::Error (the CLI prints it as one line); a crash, a sanitizer report, any other exception
// (it reaches std::terminate) or an allocation past -rss_limit_mb is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace imagefit::fuzz {

template <typename F>
void expect_load_or_error(F&& f) {
  try {
    f();
  } catch (const imagefit::Error&) {
  }
}

// The readers that take a path (HDF5, libzip, mmap) read the input from this per-process file in
// /dev/shm (memory), removed at exit.
inline const std::string& input_path(const char* suffix) {
  static const std::string path = [suffix] {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string p = std::string(dir) + "/imagefit-fuzz-" + std::to_string(getpid()) + suffix;
    static std::string for_atexit = p;
    std::atexit([] { std::remove(for_atexit.c_str()); });
    return p;
  }();
  return path;
}

inline const std::string& write_input(const uint8_t* data, size_t size, const char* suffix) {
  const std::string& path = input_path(suffix);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace imagefit::fuzz

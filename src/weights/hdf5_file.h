#pragma once
// Read-only access to an HDF5 file through the HDF5 C API (RAII, HDF5's own error printing
// silenced). Every failure is an imagefit::Error naming the file and what HDF5 said. The interface
// keeps hdf5.h out of its users.
#include <cstdint>
#include <string>
#include <vector>

namespace imagefit {

class Hdf5File {
 public:
  struct Dataset {
    std::string path;            // "model_weights/sequential_9/Conv1/kernel:0" (no leading '/')
    std::vector<int64_t> shape;  // row-major dimensions
    bool is_float = false;       // float16/32/64 (read_floats converts)
  };

  // Throws Error if the file cannot be read, is not HDF5, or is truncated or damaged. A child
  // process reads it first as weights/keras_h5.cpp does, so that a file on which libhdf5 crashes is
  // this Error too, not the end of imagefit (hdf5_file.cpp, check_in_child).
  explicit Hdf5File(const std::string& path);
  ~Hdf5File();
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;

  const std::string& path() const { return path_; }
  bool has_group(const std::string& group) const;
  // Every dataset below `group` ("/" = the whole file), each object once, in name order.
  std::vector<Dataset> datasets(const std::string& group = "/") const;
  // A float dataset's values converted to float32, in row-major order.
  std::vector<float> read_floats(const std::string& dataset) const;

 private:
  std::string path_;
  int64_t id_ = -1;  // hid_t
};

}  // namespace imagefit

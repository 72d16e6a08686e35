#pragma once
// A user-facing error: the CLI prints its message (which names the file and the problem)
// and exits non-zero, never an abort trace.
#include <stdexcept>
#include <string>

namespace imagefit {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace imagefit

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

// A bad command line (an option value, a combination): exit code 2, as getopt/argparse tools do,
// so scripts can tell "you called it wrong" from "it failed" (1).
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message) {}
};

}  // namespace imagefit

#include "test_support.h"

#include <array>
#include <cstdio>
#include <sys/wait.h>

namespace imagefit::test {

std::filesystem::path shared_dir() {
  std::filesystem::path p = IMAGEFIT_SHARED_DIR;
  if (!std::filesystem::exists(p)) return {};
  return std::filesystem::canonical(p);
}

std::filesystem::path source_dir() { return IMAGEFIT_SOURCE_DIR; }
std::filesystem::path imagefit_binary() { return IMAGEFIT_BINARY; }

CommandResult run_command(const std::string& command_line) {
  std::string cmd = command_line + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = ::pclose(pipe);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return {code, out};
}

}  // namespace imagefit::test

#pragma once
// Shared helpers for the test programs.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace imagefit::test {

// ../shared next to the repository, or "" if it is missing (then tests that need it skip with a message).
std::filesystem::path shared_dir();
// The repository root and the built imagefit binary.
std::filesystem::path source_dir();
std::filesystem::path imagefit_binary();

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line, capturing its output.
CommandResult run_command(const std::string& command_line);

}  // namespace imagefit::test

// Skips the current test with a message when ../shared (or a file in it) is missing.
#define IMAGEFIT_REQUIRE_SHARED(relative)                                                      \
  do {                                                                                         \
    auto imagefit_shared_ = ::imagefit::test::shared_dir();                                    \
    if (imagefit_shared_.empty() || !std::filesystem::exists(imagefit_shared_ / (relative)))   \
      GTEST_SKIP() << "skipped: ../shared/" << (relative) << " is not available on this machine"; \
  } while (0)

// Progress output: in a log (not a terminal) a bar is one final line, or none when the caller prints
// its own summary (an epoch's line); turned off (nullptr) it prints nothing at all.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "core/progress.h"

using imagefit::ProgressBar;

namespace {
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s += char(c);
  return s;
}
}  // namespace

TEST(Progress, InALogABarIsOneLineOrNone) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressBar bar("features (train)", 10, f);
    for (long i = 1; i <= 10; ++i) bar.update(i, "x");
    bar.finish("(done)");
    bar.finish("(again)");  // idempotent
  }
  {
    ProgressBar epoch("train 1/3", 10, f);
    epoch.update(5);
    epoch.discard();  // the epoch's own line follows
    epoch.finish();   // already ended: nothing
  }
  const std::string out = contents(f);
  EXPECT_EQ(out.rfind("features (train) 0:00 (done)\n", 0), 0u) << out;
  EXPECT_EQ(out.find("train 1/3"), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << "no redraws in a log: " << out;
  EXPECT_EQ(out.find("again"), std::string::npos) << out;
  std::fclose(f);
}

TEST(Progress, TurnedOffItPrintsNothing) {
  ProgressBar bar("quiet", 5, nullptr, "KiB");
  bar.update(3);
  bar.finish("never shown");  // must not touch a null stream
  SUCCEED();
}

TEST(Progress, DurationsReadAsClockTime) {
  EXPECT_EQ(imagefit::format_duration(7), "0:07");
  EXPECT_EQ(imagefit::format_duration(125), "2:05");
  EXPECT_EQ(imagefit::format_duration(3723), "1:02:03");
  EXPECT_EQ(imagefit::format_duration(-3), "0:00");
}

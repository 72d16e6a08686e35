// The learning-rate schedules (train/schedule.h) against PyTorch's own schedulers, run by Debian's
// python3-torch (tests/fixtures/lr_schedules.py): the factor of every step equal to 1e-9.
#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "core/error.h"
#include "test_support.h"
#include "train/schedule.h"

namespace imagefit {
namespace {

// The factors, or nothing when /usr/bin/python3 cannot import torch (`why` says what it printed).
std::vector<double> pytorch_factors(const std::string& kind, size_t per_epoch, size_t total, std::string& why) {
  const auto r = test::run_command("/usr/bin/python3 '" + (test::source_dir() / "tests/fixtures/lr_schedules.py").string() +
                                   "' " + kind + " " + std::to_string(per_epoch) + " " + std::to_string(total));
  std::vector<double> out;
  if (r.exit_code != 0) {
    why = r.output.substr(0, 300);
    return out;
  }
  std::istringstream in(r.output);
  for (double v; in >> v;) out.push_back(v);
  EXPECT_TRUE(in.eof()) << "not a number in the reference's output: " << r.output.substr(0, 300);
  return out;
}

void expect_like_pytorch(Schedule s, const std::string& kind) {
  for (auto [per_epoch, total] : {std::pair<size_t, size_t>{5, 20}, {12, 120}, {1, 7}, {45, 450}}) {
    SCOPED_TRACE(kind + " " + std::to_string(per_epoch) + " steps an epoch, " + std::to_string(total));
    std::string why;
    const auto expected = pytorch_factors(kind, per_epoch, total, why);
    if (!why.empty())
      GTEST_SKIP() << "skipped: /usr/bin/python3 with torch is not available (scripts/setup.sh --test installs it): " << why;
    ASSERT_EQ(expected.size(), total);
    for (size_t step = 0; step < total; ++step)
      EXPECT_NEAR(learning_rate_factor(s, step, per_epoch, total), expected[step], 1e-9) << "step " << step;
  }
}

TEST(Schedule, CosineIsPyTorchsWarmUpThenCosineAnnealing) { expect_like_pytorch(Schedule::Cosine, "cosine"); }
TEST(Schedule, OneCycleIsPyTorchsOneCycleLR) { expect_like_pytorch(Schedule::OneCycle, "onecycle"); }

TEST(Schedule, ConstantAndNamesParse) {
  EXPECT_EQ(learning_rate_factor(Schedule::Constant, 17, 5, 20), 1.0);
  for (auto s : {Schedule::Auto, Schedule::Constant, Schedule::Cosine, Schedule::OneCycle})
    EXPECT_EQ(schedule_from_string(to_string(s)), s);
  try {
    schedule_from_string("cosin");
    FAIL() << "a wrong name must be refused";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean cosine"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace imagefit

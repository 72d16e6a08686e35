// The bf16 check reads /proc/cpuinfo's flags line, the whole word, on x86 machines.
#include <gtest/gtest.h>

#include "core/cpu_features.h"

using imagefit::cpuinfo_has_native_bf16;

TEST(CpuFeatures, FindsTheBf16FlagsAsWholeWords) {
  const std::string zen4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme avx2 avx512f avx512_bf16 avx512vl\n";
  const std::string sapphire = "flags\t\t: fpu avx512f amx_bf16 amx_tile amx_int8\n";
  const std::string skylake = "flags\t\t: fpu avx2 avx512f avx512bw avx512_vnni\n";
  const std::string lookalike = "flags\t\t: fpu avx512_bf16x\nbugs\t\t: avx512_bf16\n";
  EXPECT_TRUE(cpuinfo_has_native_bf16(zen4));
  EXPECT_TRUE(cpuinfo_has_native_bf16(sapphire));
  EXPECT_FALSE(cpuinfo_has_native_bf16(skylake));
  EXPECT_FALSE(cpuinfo_has_native_bf16(lookalike));
  EXPECT_FALSE(cpuinfo_has_native_bf16(""));
  EXPECT_FALSE(cpuinfo_has_native_bf16("Features\t: fp asimd bf16\n"));  // arm64 says it otherwise; not checked
}

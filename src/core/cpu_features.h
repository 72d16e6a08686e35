#pragma once
// What the CPU can do, read at run time (machines vary: Intel Xeon with AVX-512-BF16 and AMX, AMD
// EPYC with or without AVX-512). Torch-free.
#include <string>

namespace imagefit {

// True when the CPU has native bf16 arithmetic (the `avx512_bf16` or `amx_bf16` flag in
// /proc/cpuinfo): there oneDNN runs bf16 convolutions and matrix products about twice as fast as
// fp32. Read once. IMAGEFIT_CPU_BF16=0|1 overrides it (tests, and users who want to pin it).
bool cpu_has_native_bf16();

// The check itself, on the text of /proc/cpuinfo (exposed for tests).
bool cpuinfo_has_native_bf16(const std::string& cpuinfo);

}  // namespace imagefit

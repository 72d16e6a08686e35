#include "core/cpu_features.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace imagefit {

bool cpuinfo_has_native_bf16(const std::string& cpuinfo) {
  std::istringstream in(cpuinfo);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;  // "flags\t\t: fpu vme ..." (x86)
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w)
      if (w == "avx512_bf16" || w == "amx_bf16") return true;
    return false;  // every core lists the same flags
  }
  return false;
}

bool cpu_has_native_bf16() {
  static const bool has = [] {
    if (const char* v = std::getenv("IMAGEFIT_CPU_BF16"); v && *v) return std::string(v) != "0";
    std::ifstream f("/proc/cpuinfo");
    std::stringstream ss;
    ss << f.rdbuf();
    return cpuinfo_has_native_bf16(ss.str());
  }();
  return has;
}

}  // namespace imagefit

#include "core/fs.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "core/error.h"

namespace imagefit {

namespace {
std::string unique_suffix() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  return std::to_string(::getpid()) + "." + std::to_string(counter++) + "." + std::to_string(rd() % 100000);
}
}  // namespace

void atomic_write(const fs::path& path, const std::function<void(std::ostream&)>& write) {
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::path tmp = dir / ("." + path.filename().string() + ".tmp." + unique_suffix());
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw Error("cannot write " + tmp.string() + ": " + std::strerror(errno));
      write(out);
      out.flush();
      if (!out) throw Error("cannot write " + path.string() + ": write failed (disk full?)");
    }
    // fsync the data before the rename so a crash cannot leave an empty file under the final name.
    if (FILE* f = std::fopen(tmp.c_str(), "rb")) {
      ::fsync(fileno(f));
      std::fclose(f);
    }
    fs::rename(tmp, path);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
}

void atomic_write_text(const fs::path& path, const std::string& text) {
  atomic_write(path, [&](std::ostream& out) { out << text; });
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path.string() + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TempDir::TempDir(const std::string& prefix) {
  std::string templ = (fs::temp_directory_path() / (prefix + ".XXXXXX")).string();
  if (!::mkdtemp(templ.data())) throw Error("cannot create a temporary directory in " + fs::temp_directory_path().string());
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace imagefit

#include "core/fs.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

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

namespace {
// The path with symlinks of its existing part resolved, so "data/../data/x" and a link to data match.
fs::path resolved(const fs::path& p) {
  std::error_code ec;
  fs::path r = fs::weakly_canonical(fs::absolute(p, ec), ec);
  return ec ? fs::absolute(p).lexically_normal() : r;
}

// How many components `path` has below `dir` (0: not inside).
int depth_inside(const fs::path& path, const fs::path& dir) {
  auto d = dir.begin(), p = path.begin();
  for (; d != dir.end(); ++d, ++p) {
    if (d->empty()) continue;  // a trailing separator
    if (p == path.end() || *p != *d) return 0;
  }
  int depth = 0;
  for (; p != path.end(); ++p) depth += p->empty() ? 0 : 1;
  return depth;
}
}  // namespace

bool check_output_path(const fs::path& output, const std::vector<fs::path>& input_files,
                       const std::vector<fs::path>& input_dirs, bool replace, const std::string& option) {
  const std::string what = option + " " + output.string();
  if (output.empty()) throw Error(option + ": empty path");
  const fs::path out = resolved(output);
  std::error_code ec;
  for (const auto& in : input_files) {
    if (in.empty()) continue;
    if (resolved(in) == out || (fs::exists(output, ec) && fs::equivalent(in, output, ec)))
      throw Error(what + ": is the input " + in.string() + "; choose another output file");
  }
  for (const auto& dir : input_dirs) {
    if (dir.empty()) continue;
    // A file at the dataset's top level is never read as data; anything in its class or split folders is.
    if (depth_inside(out, resolved(dir)) >= 2)
      throw Error(what + ": is inside the dataset folder " + dir.string() +
                  " (the next run would read it as data); write it somewhere else");
  }
  if (fs::is_directory(output, ec)) throw Error(what + ": is a folder; give a file name");
  if (fs::exists(output, ec) && !replace)
    throw Error(what + ": already exists; use --force to replace it, or another -o");
  fs::path dir = out.parent_path();
  bool created = false;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) throw Error(what + ": cannot create the folder " + dir.string() + " (" + ec.message() + ")");
    created = true;
  }
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error(what + ": cannot write in " + dir.string() + " (" + std::strerror(errno) + ")");
  return created;
}

void remove_stale_temp_files(const fs::path& path) {
  const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  const std::string prefix = "." + path.filename().string() + ".tmp.";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::atol(name.c_str() + prefix.size());
    // A live process may be writing it; kill(pid, 0) fails with ESRCH only when no such process exists.
    if (pid > 0 && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) fs::remove(it->path(), ec);
  }
}

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace imagefit

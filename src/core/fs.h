#pragma once
// File-system helpers: atomic writes (temp file + rename, so nothing is ever half-written),
// reading whole files, and a scoped temporary directory.
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace imagefit {

namespace fs = std::filesystem;

// Writes `path` atomically: `write` fills a temporary file next to it, which is flushed and
// renamed over `path` only if `write` returned without throwing.
void atomic_write(const fs::path& path, const std::function<void(std::ostream&)>& write);
void atomic_write_text(const fs::path& path, const std::string& text);

std::string read_file(const fs::path& path);

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "imagefit");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Lower-cased extension with the dot (".jpg"); "" if none.
std::string lower_extension(const fs::path& p);

}  // namespace imagefit

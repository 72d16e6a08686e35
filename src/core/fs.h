#pragma once
// File-system helpers: atomic writes (temp file + rename, so nothing is ever half-written),
// reading whole files, and a scoped temporary directory.
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

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

// Checks an output path before any work, so nothing read is ever written over and no long run fails
// at its end. `option` names the flag in messages ("-o"). Throws Error when `output` is one of
// `input_files` (the model being read), lies in a subfolder of one of `input_dirs` (a dataset's class or
// split folders: the next run would read it as data), exists and `replace` is false, or its folder cannot be created or written.
// Returns true when it created the output's folder (so the caller can say so).
bool check_output_path(const fs::path& output, const std::vector<fs::path>& input_files,
                       const std::vector<fs::path>& input_dirs, bool replace, const std::string& option);

// Removes temp files that a killed atomic_write left beside `path` (".NAME.tmp.PID.*" of dead PIDs).
void remove_stale_temp_files(const fs::path& path);

// Lower-cased extension with the dot (".jpg"); "" if none.
std::string lower_extension(const fs::path& p);

}  // namespace imagefit

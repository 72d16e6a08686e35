#include "data/dataset.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>

#include "core/error.h"
#include "core/random.h"
#include "data/image_io.h"

namespace imagefit {

namespace fs = std::filesystem;

std::vector<size_t> ImageSet::class_counts() const {
  std::vector<size_t> counts(classes.size(), 0);
  for (const auto& im : images) counts[im.label]++;
  return counts;
}

namespace {

void emit(ScanIssues& found, ScanIssues* sink) {
  if (sink) {
    sink->insert(sink->end(), found.begin(), found.end());
  } else {
    for (const auto& i : found) std::fprintf(stderr, "warning: skipped %s: %s\n", i.path.c_str(), i.reason.c_str());
  }
  found.clear();
}

std::string why(const std::error_code& ec) {
  if (ec.value() == ELOOP) return "symbolic link loop (" + ec.message() + ")";
  return ec.message();
}

// What an entry is, following links; on failure (a link loop, a broken link, no permission on the way)
// records why it is skipped and returns file_type::none.
fs::file_type entry_type(const fs::directory_entry& e, ScanIssues& skipped) {
  std::error_code ec;
  const fs::file_status st = e.status(ec);
  if (st.type() == fs::file_type::not_found) {
    std::error_code lec;
    if (e.is_symlink(lec)) skipped.push_back({e.path().string(), "broken symbolic link (its target does not exist)"});
    return fs::file_type::none;
  }
  if (ec) {
    skipped.push_back({e.path().string(), why(ec)});
    return fs::file_type::none;
  }
  return st.type();
}

// The entries of `dir` (hidden ones skipped); the callback gets each with its type. Returns why `dir`
// cannot be opened ("" when it could); a failure in the middle is recorded and ends the listing.
template <class F>
std::string for_each_entry(const fs::path& dir, bool skip_hidden, ScanIssues& skipped, F&& f) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return "cannot read folder (" + why(ec) + ")";
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || (skip_hidden && name[0] == '.')) continue;
    const fs::file_type type = entry_type(*it, skipped);
    if (type != fs::file_type::none) f(*it, type);
  }
  if (ec) skipped.push_back({dir.string(), "listing stopped early (" + why(ec) + ")"});
  return "";
}

void require(const std::string& dir, const std::string& open_error) {
  if (!open_error.empty()) throw Error(dir + ": " + open_error);
}

bool readable(const fs::path& file, ScanIssues& skipped) {
  if (::access(file.c_str(), R_OK) == 0) return true;
  skipped.push_back({file.string(), std::string("cannot read file (") + std::strerror(errno) + ")"});
  return false;
}

// True when the folder link `entry` leads to `dir` itself or a folder above it (a loop).
bool loops_back(const fs::directory_entry& entry, const fs::path& dir) {
  std::error_code ec;
  if (!entry.is_symlink(ec)) return false;
  const fs::path target = fs::canonical(entry.path(), ec);
  if (ec) return false;
  const fs::path here = fs::canonical(dir, ec);
  if (ec) return false;
  auto t = target.begin();
  for (auto h = here.begin(); t != target.end(); ++t, ++h)
    if (h == here.end() || *h != *t) return false;
  return true;
}

// Sets `open_error` when `dir` cannot be listed at all.
std::vector<std::string> image_files_in(const fs::path& dir, ScanIssues& skipped, std::string& open_error) {
  std::vector<std::string> out;
  open_error = for_each_entry(dir, /*skip_hidden=*/true, skipped, [&](const fs::directory_entry& e, fs::file_type type) {
    if (type == fs::file_type::regular && has_image_extension(e.path().filename().string()) && readable(e.path(), skipped))
      out.push_back(e.path().string());
  });
  std::sort(out.begin(), out.end());
  return out;
}

void find_recursive(const fs::path& dir, std::set<std::pair<dev_t, ino_t>>& seen, std::vector<std::string>& out,
                    ScanIssues& skipped) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    skipped.push_back({dir.string(), std::strerror(errno)});
    return;
  }
  if (!seen.insert({st.st_dev, st.st_ino}).second) {
    skipped.push_back({dir.string(), "folder already searched (a symbolic link loop, or a second link to it)"});
    return;
  }
  std::vector<fs::path> subfolders;
  const std::string open_error = for_each_entry(dir, /*skip_hidden=*/false, skipped, [&](const fs::directory_entry& e, fs::file_type type) {
    if (type == fs::file_type::directory) subfolders.push_back(e.path());
    else if (type == fs::file_type::regular && has_image_extension(e.path().filename().string()) && readable(e.path(), skipped))
      out.push_back(e.path().string());
  });
  if (!open_error.empty()) {  // an unreadable sub-folder is skipped, not the end of the search
    skipped.push_back({dir.string(), open_error});
    return;
  }
  for (const auto& sub : subfolders) find_recursive(sub, seen, out, skipped);
}

}  // namespace

std::vector<std::string> list_class_folders(const std::string& dir, ScanIssues* skipped) {
  ScanIssues found;
  std::vector<std::string> out;
  const std::string open_error = for_each_entry(dir, /*skip_hidden=*/true, found, [&](const fs::directory_entry& e, fs::file_type type) {
    if (type != fs::file_type::directory) return;
    if (loops_back(e, dir)) {
      found.push_back({e.path().string(), "symbolic link loop (links back to " + dir + " or a folder above it)"});
      return;
    }
    out.push_back(e.path().filename().string());
  });
  emit(found, skipped);
  require(dir, open_error);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> list_image_files(const std::string& dir, ScanIssues* skipped) {
  ScanIssues found;
  std::string open_error;
  auto out = image_files_in(dir, found, open_error);
  emit(found, skipped);
  require(dir, open_error);
  return out;
}

std::vector<std::string> find_image_files(const std::string& dir, ScanIssues* skipped) {
  ScanIssues found;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": not a folder" + (ec ? " (" + why(ec) + ")" : ""));
  find_recursive(dir, seen, out, found);
  emit(found, skipped);
  std::sort(out.begin(), out.end());
  return out;
}

ImageSet scan_class_folders(const std::string& dir, bool allow_single_class, ScanIssues* skipped) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(dir + ": not a folder" + (ec && ec != std::errc::no_such_file_or_directory ? " (" + why(ec) + ")" : ""));
  ScanIssues found;
  auto fail = [&](const std::string& message) {
    emit(found, skipped);
    throw Error(message);
  };
  ImageSet set;
  set.classes = list_class_folders(dir, &found);
  if (set.classes.empty())
    fail(dir + ": no class folders (expected one sub-folder of images a class, e.g. " + dir + "/cats, " + dir + "/dogs)");
  if (set.classes.size() == 1 && !allow_single_class)
    fail(dir + ": only one class folder ('" + set.classes[0] + "'); a classifier needs at least two classes");
  for (size_t c = 0; c < set.classes.size(); ++c) {
    const std::string class_dir = (fs::path(dir) / set.classes[c]).string();
    const size_t issues_before = found.size();
    std::string open_error;
    const std::vector<std::string> files = image_files_in(class_dir, found, open_error);
    if (!open_error.empty()) fail(class_dir + ": class folder with no readable image (" + open_error + ")");
    if (files.empty() && found.size() > issues_before) {
      const ScanIssue& first = found[issues_before];
      const size_t n = found.size() - issues_before;
      fail(class_dir + ": class folder with no readable image (" + std::to_string(n) + " entr" + (n == 1 ? "y" : "ies") +
           " skipped; " + first.path + ": " + first.reason + ")");
    }
    if (files.empty()) fail(class_dir + ": empty class folder (no .jpg/.jpeg/.png/.bmp/.webp/.tif images)");
    for (auto& f : files) set.images.push_back({f, int(c)});
  }
  emit(found, skipped);
  return set;
}

std::vector<SplitFolder> find_split_folders(const std::string& dir) {
  const fs::path root(dir);
  std::error_code ec;
  if (!fs::is_directory(root / "train", ec)) return {{"train", dir}};
  std::vector<SplitFolder> out = {{"train", (root / "train").string()}};
  for (const char* name : {"validation", "val", "valid"})
    if (fs::is_directory(root / name, ec)) {
      out.push_back({"validation", (root / name).string()});
      break;
    }
  if (fs::is_directory(root / "test", ec)) out.push_back({"test", (root / "test").string()});
  return out;
}

namespace {
ImageSet scan_split(const fs::path& dir, const std::vector<std::string>& classes, ScanIssues* skipped) {
  ImageSet set = scan_class_folders(dir.string(), /*allow_single_class=*/true, skipped);
  if (set.classes != classes) {
    std::string missing, extra;
    for (auto& c : classes)
      if (std::find(set.classes.begin(), set.classes.end(), c) == set.classes.end()) missing += " " + c;
    for (auto& c : set.classes)
      if (std::find(classes.begin(), classes.end(), c) == classes.end()) extra += " " + c;
    std::string msg = dir.string() + ": class folders differ from train/";
    if (!missing.empty()) msg += "; missing:" + missing;
    if (!extra.empty()) msg += "; not in train/:" + extra;
    throw Error(msg);
  }
  return set;
}
}  // namespace

Dataset open_dataset(const std::string& dir, ScanIssues* skipped) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(dir + ": not a folder" + (ec && ec != std::errc::no_such_file_or_directory ? " (" + why(ec) + ")" : ""));
  Dataset ds;
  ds.root = dir;
  ScanIssues found;
  try {
    for (const auto& split : find_split_folders(dir)) {
      if (split.name == "train") {
        ds.train = scan_class_folders(split.path, /*allow_single_class=*/false, &found);
        ds.classes = ds.train.classes;
      } else {
        (split.name == "test" ? ds.test : ds.validation) = scan_split(split.path, ds.classes, &found);
      }
    }
  } catch (const Error&) {
    emit(found, skipped);
    throw;
  }
  ds.skipped = found;
  emit(found, skipped);
  return ds;
}

std::pair<ImageSet, ImageSet> split_stratified(const ImageSet& set, double fraction, uint64_t seed) {
  if (fraction <= 0 || fraction >= 1) throw Error("split fraction must be between 0 and 1 (got " + std::to_string(fraction) + ")");
  ImageSet keep{set.classes, {}}, taken{set.classes, {}};
  for (size_t c = 0; c < set.classes.size(); ++c) {
    std::vector<LabeledImage> members;
    for (const auto& im : set.images)
      if (im.label == int(c)) members.push_back(im);
    Rng rng(mix_seed({seed, 0x5117, c}));
    std::shuffle(members.begin(), members.end(), rng);
    size_t n_take = size_t(std::llround(fraction * members.size()));
    if (members.size() >= 2) n_take = std::clamp<size_t>(n_take, 1, members.size() - 1);
    else n_take = 0;
    for (size_t i = 0; i < members.size(); ++i) (i < n_take ? taken : keep).images.push_back(members[i]);
  }
  auto by_path = [](const LabeledImage& a, const LabeledImage& b) {
    return a.label != b.label ? a.label < b.label : a.path < b.path;
  };
  std::sort(keep.images.begin(), keep.images.end(), by_path);
  std::sort(taken.images.begin(), taken.images.end(), by_path);
  return {keep, taken};
}

}  // namespace imagefit

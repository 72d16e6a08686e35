#include "data/split.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/random.h"
#include "core/text.h"
#include "data/dataset.h"

namespace imagefit {

namespace fs = std::filesystem;

namespace {

std::string format_number(double v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

const std::array<const char*, 3> kOptionNames = {"--train", "--val", "--test"};

// How one split's size is given.
struct SizeSpec {
  enum Kind { kNone, kRest, kCount, kFraction } kind = kNone;
  double value = 0;
};

SizeSpec parse_size(const std::optional<double>& v, int split) {
  if (!v) return {};
  const double x = *v;
  const std::string what = std::string(kOptionNames[split]) + " " + format_number(x);
  if (!std::isfinite(x) || x < 0)
    throw Error(what + ": a size is a number of images a class (>= 1) or a fraction of each class (below 1)");
  if (x == 0) return {};
  if (x >= 1) {
    if (x != std::floor(x))
      throw Error(what + ": a number of images must be whole (a fraction of each class must be below 1)");
    return {SizeSpec::kCount, x};
  }
  return {SizeSpec::kFraction, x};
}

std::array<SizeSpec, 3> resolve_sizes(const SplitOptions& o) {
  std::array<SizeSpec, 3> s;
  if (!o.train && !o.validation && !o.test) {
    s[kTrainSplit] = {SizeSpec::kRest, 0};
    s[kValidationSplit] = {SizeSpec::kFraction, 0.15};
    s[kTestSplit] = {SizeSpec::kFraction, 0.15};
    return s;
  }
  s[kTrainSplit] = parse_size(o.train, kTrainSplit);
  s[kValidationSplit] = parse_size(o.validation, kValidationSplit);
  s[kTestSplit] = parse_size(o.test, kTestSplit);
  if (!o.train) s[kTrainSplit] = {SizeSpec::kRest, 0};

  double fraction_sum = 0;
  bool all_fractions = true;
  for (const auto& spec : s) {
    if (spec.kind == SizeSpec::kFraction) fraction_sum += spec.value;
    if (spec.kind == SizeSpec::kCount) all_fractions = false;
  }
  if (fraction_sum > 1 + 1e-9)
    throw Error("the fractions add up to " + format_number(fraction_sum) + ", more than all the images");
  // Three fractions that add up to 1 mean "everything": train takes the rest so rounding loses no image.
  if (s[kTrainSplit].kind == SizeSpec::kFraction && all_fractions && std::abs(fraction_sum - 1) < 1e-9)
    s[kTrainSplit] = {SizeSpec::kRest, 0};
  if (s[kTrainSplit].kind == SizeSpec::kRest) {
    double others = 0;
    for (int i : {kValidationSplit, kTestSplit})
      if (s[i].kind == SizeSpec::kFraction) others += s[i].value;
    if (others > 1 - 1e-9)
      throw Error("--val and --test take all the images (" + format_number(others) + "), leaving none for train");
  }
  if (std::all_of(s.begin(), s.end(), [](const SizeSpec& x) { return x.kind == SizeSpec::kNone; }))
    throw Error("nothing to split: every size is 0");
  return s;
}

std::string describe_request(const std::array<size_t, 3>& n, bool rest) {
  std::string out;
  for (int s = 0; s < 3; ++s) {
    if (n[s] == 0) continue;
    if (!out.empty()) out += " + ";
    out += std::string(kSplitFolderNames[s]) + " " + with_commas(n[s]);
  }
  return out;
}

// Sizes of one class with `total` images. Appends to `too_few` (error) or `warnings` (allow_fewer).
std::array<size_t, 3> class_sizes(const std::array<SizeSpec, 3>& spec, size_t total, const std::string& name,
                                  bool allow_fewer, std::vector<std::string>& too_few,
                                  std::vector<std::string>& warnings) {
  std::array<size_t, 3> n{};
  double exact_sum = 0;
  const bool rest = spec[kTrainSplit].kind == SizeSpec::kRest;
  for (int s = 0; s < 3; ++s) {
    if (spec[s].kind == SizeSpec::kCount) {
      n[s] = size_t(spec[s].value);
      exact_sum += spec[s].value;
    } else if (spec[s].kind == SizeSpec::kFraction) {
      const double exact = spec[s].value * double(total);
      n[s] = std::max<size_t>(1, size_t(std::llround(exact)));  // every class in every split
      exact_sum += exact;
    }
  }
  auto fixed_sum = [&] { return n[0] + n[1] + n[2]; };
  const size_t cap = rest ? total - 1 : total;  // the rest (train) keeps at least one image
  // Over by rounding (or by the one-image minimum) only: take the excess from the largest fraction-sized splits.
  if (fixed_sum() > cap && exact_sum <= double(cap) + 1e-9) {
    while (fixed_sum() > cap) {
      int largest = -1;
      for (int s = 0; s < 3; ++s)
        if (spec[s].kind == SizeSpec::kFraction && n[s] > 1 && (largest < 0 || n[s] > n[largest])) largest = s;
      if (largest < 0) break;
      --n[largest];
    }
  }
  if (fixed_sum() > cap) {
    const std::string asked = describe_request(n, rest);
    if (!allow_fewer) {
      too_few.push_back(
          "class '" + name + "' has " + plural(static_cast<long long>(total), "image") + ", " +
          (rest && fixed_sum() <= total ? asked + " leave none for train" : "fewer than asked (" + asked + ")"));
    } else {
      // Largest-remainder apportionment of `cap` images in proportion to what was asked.
      const size_t asked_total = fixed_sum();
      std::array<size_t, 3> scaled{};
      std::array<double, 3> remainder{};
      size_t given = 0;
      for (int s = 0; s < 3; ++s) {
        const double share = double(n[s]) * double(cap) / double(asked_total);
        scaled[s] = size_t(std::floor(share));
        remainder[s] = share - double(scaled[s]);
        given += scaled[s];
      }
      while (given < cap) {
        int best = -1;
        for (int s = 0; s < 3; ++s)
          if (n[s] > 0 && (best < 0 || remainder[s] > remainder[best])) best = s;
        ++scaled[best];
        remainder[best] = -1;
        ++given;
      }
      n = scaled;
      std::string took = describe_request(n, rest);
      if (rest) took += (took.empty() ? "" : " + ") + std::string("train ") + with_commas(total - fixed_sum());
      warnings.push_back("class '" + name + "' has " + plural(static_cast<long long>(total), "image") + ", fewer than asked (" + asked +
                         "); taking " + took);
    }
  }
  if (rest) n[kTrainSplit] = total - fixed_sum();
  return n;
}

// Uniform in [0, bound), the same on every platform (std::uniform_int_distribution is not).
uint64_t uniform_below(Rng& rng, uint64_t bound) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do x = rng();
  while (x >= limit);
  return x % bound;
}

// Fisher-Yates with a portable draw, so a seed gives the same split with any standard library.
template <class T>
void portable_shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[uniform_below(rng, i)]);
}

// FNV-1a: a class's shuffle depends on its name, not on which other classes exist.
uint64_t name_hash(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

bool is_within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // trailing separator
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

bool same_content(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::equivalent(a, b, ec)) return true;  // a hard link (or the file itself): no need to read it
  const auto size_a = fs::file_size(a, ec);
  if (ec) return false;
  const auto size_b = fs::file_size(b, ec);
  if (ec || size_a != size_b) return false;
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  if (!fa || !fb) return false;
  std::vector<char> ba(1 << 16), bb(1 << 16);
  while (fa && fb) {
    fa.read(ba.data(), std::streamsize(ba.size()));
    fb.read(bb.data(), std::streamsize(bb.size()));
    if (fa.gcount() != fb.gcount() || std::memcmp(ba.data(), bb.data(), size_t(fa.gcount())) != 0) return false;
  }
  return true;
}

fs::path absolute_normal(const fs::path& p) { return fs::absolute(p).lexically_normal(); }

// A destination that holds what this file would put there (a rerun with --force) is skipped.
bool already_placed(const SplitFile& f, SplitMode mode) {
  std::error_code ec;
  const fs::path dst(f.destination);
  if (mode == SplitMode::kSymlink && fs::is_symlink(fs::symlink_status(dst, ec)))
    return absolute_normal(fs::read_symlink(dst, ec)) == absolute_normal(f.source) || same_content(f.source, dst);
  return fs::is_regular_file(dst, ec) && same_content(f.source, dst);
}

// Friendlier errors than scan_class_folders for the two usual mistakes: SRC is an already-split
// dataset, or its images were already moved out (a second `--mode move`).
void check_source_layout(const fs::path& src) {
  const auto folders = list_class_folders(src.string());
  if (folders.empty()) return;  // scan_class_folders explains
  const std::vector<std::string> split_names = {"train", "validation", "val", "valid", "test"};
  const bool looks_split = std::find(folders.begin(), folders.end(), "train") != folders.end() &&
                           std::all_of(folders.begin(), folders.end(), [&](const std::string& f) {
                             return std::find(split_names.begin(), split_names.end(), f) != split_names.end();
                           });
  if (looks_split)
    throw Error(src.string() + ": already split (it holds train/" + std::string(folders.size() > 1 ? " and more" : "") +
                "); split takes a folder of class folders, e.g. " + (src / "cats").string() + ", " +
                (src / "dogs").string());
  for (const auto& f : folders)
    if (!list_image_files((src / f).string()).empty()) return;
  throw Error(src.string() + ": no images left in its class folders (" + folders.front() +
              (folders.size() > 1 ? "/, ...)" : "/)") + "; was it already split with --mode move?");
}

std::string list_entries(const fs::path& dir, size_t max_shown) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    names.push_back(e.path().filename().string() + (e.is_directory() ? "/" : ""));
  std::sort(names.begin(), names.end());
  std::string out;
  for (size_t i = 0; i < names.size() && i < max_shown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > max_shown) out += ", ...";
  return out;
}

// The nearest existing folder at or above `p` (for the file-system check of hard links).
fs::path existing_ancestor(fs::path p) {
  p = absolute_normal(p);
  std::error_code ec;
  while (!fs::exists(p, ec) && p.has_parent_path() && p.parent_path() != p) p = p.parent_path();
  return p;
}

std::string temp_name_for(const fs::path& dst) {
  static std::atomic<unsigned> counter{0};
  return "." + dst.filename().string() + ".imagefit-split." + std::to_string(::getpid()) + "." +
         std::to_string(counter++);
}

// rename() that fails with EEXIST instead of replacing. Returns 0 or an errno value.
int rename_no_replace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  const int e = errno;
  if (e != EINVAL && e != ENOSYS && e != ENOTSUP) return e;
  // The file system does not know RENAME_NOREPLACE: link() fails on an existing name too.
  if (::link(from.c_str(), to.c_str()) != 0) return errno;
  ::unlink(from.c_str());
  return 0;
}

[[noreturn]] void fail_exists(const fs::path& dst) {
  throw Error(dst.string() + ": already exists (imagefit split never overwrites a file)");
}

// Copies through a temporary name in the destination folder, so a failed copy leaves no partial file.
void copy_no_clobber(const fs::path& src, const fs::path& dst) {
  const fs::path tmp = dst.parent_path() / temp_name_for(dst);
  std::error_code ec;
  try {
    fs::copy_file(src, tmp, fs::copy_options::none);
    fs::last_write_time(tmp, fs::last_write_time(src), ec);  // keep the date; not worth failing over
  } catch (const fs::filesystem_error& e) {
    fs::remove(tmp, ec);
    throw Error("cannot copy " + src.string() + " to " + dst.string() + ": " + e.code().message());
  }
  if (int err = rename_no_replace(tmp, dst)) {
    fs::remove(tmp, ec);
    if (err == EEXIST) fail_exists(dst);
    throw Error("cannot copy " + src.string() + " to " + dst.string() + ": " + std::strerror(err));
  }
}

void place_file(const SplitFile& f, SplitMode mode) {
  const fs::path src(f.source), dst(f.destination);
  std::error_code ec;
  switch (mode) {
    case SplitMode::kCopy:
      copy_no_clobber(src, dst);
      return;
    case SplitMode::kSymlink:
      fs::create_symlink(absolute_normal(src), dst, ec);
      if (ec == std::errc::file_exists) fail_exists(dst);
      if (ec)
        throw Error("cannot create the symbolic link " + dst.string() + " -> " + src.string() + ": " + ec.message());
      return;
    case SplitMode::kHardlink:
      fs::create_hard_link(src, dst, ec);
      if (ec == std::errc::file_exists) fail_exists(dst);
      if (ec) throw Error("cannot create the hard link " + dst.string() + " to " + src.string() + ": " + ec.message());
      return;
    case SplitMode::kMove: {
      const int err = rename_no_replace(src, dst);
      if (err == 0) return;
      if (err == EEXIST) fail_exists(dst);
      if (err != EXDEV) throw Error("cannot move " + src.string() + " to " + dst.string() + ": " + std::strerror(err));
      // Another file system: copy, then remove the original.
      copy_no_clobber(src, dst);
      fs::remove(src, ec);
      if (ec)
        throw Error("copied " + src.string() + " to " + dst.string() +
                    " but cannot remove the original: " + ec.message());
      return;
    }
  }
}

}  // namespace

std::string split_mode_name(SplitMode mode) {
  switch (mode) {
    case SplitMode::kCopy:
      return "copy";
    case SplitMode::kSymlink:
      return "symlink";
    case SplitMode::kHardlink:
      return "hardlink";
    case SplitMode::kMove:
      return "move";
  }
  return "?";
}

std::string split_mode_verb(SplitMode mode) {
  switch (mode) {
    case SplitMode::kCopy:
      return "copied";
    case SplitMode::kSymlink:
      return "symlinked";
    case SplitMode::kHardlink:
      return "hard-linked";
    case SplitMode::kMove:
      return "moved";
  }
  return "?";
}

SplitMode parse_split_mode(const std::string& name) {
  for (SplitMode m : {SplitMode::kCopy, SplitMode::kSymlink, SplitMode::kHardlink, SplitMode::kMove})
    if (name == split_mode_name(m)) return m;
  throw Error("unknown split mode '" + name + "' (expected copy, symlink, hardlink or move)");
}

size_t SplitPlan::split_total(int split) const {
  size_t n = 0;
  for (const auto& c : counts) n += c[split];
  return n;
}

size_t SplitPlan::unused(size_t label) const {
  const auto& c = counts[label];
  return class_totals[label] - c[0] - c[1] - c[2];
}

size_t SplitPlan::total_unused() const {
  size_t n = 0;
  for (size_t c = 0; c < classes.size(); ++c) n += unused(c);
  return n;
}

size_t SplitPlan::total_images() const {
  size_t n = 0;
  for (size_t t : class_totals) n += t;
  return n;
}

size_t SplitPlan::files_to_write() const {
  return size_t(std::count_if(files.begin(), files.end(), [](const SplitFile& f) { return !f.already_there; }));
}

SplitPlan plan_split(const SplitOptions& options) {
  if (options.source.empty()) throw Error("no source folder given");
  if (options.destination.empty()) throw Error("no destination folder given");
  const fs::path src(options.source), dst(options.destination);
  std::error_code ec;
  if (!fs::exists(src, ec)) throw Error(options.source + ": no such folder");
  if (!fs::is_directory(src, ec)) throw Error(options.source + ": not a folder");

  // DST inside SRC would become a class folder; SRC inside DST/train would be written onto itself.
  const fs::path src_c = fs::weakly_canonical(src), dst_c = fs::weakly_canonical(dst);
  if (is_within(dst_c, src_c))
    throw Error(options.destination + ": inside the source folder " + options.source +
                " (it would become a class); choose a destination outside it");
  for (const char* name : kSplitFolderNames)
    if (is_within(src_c, dst_c / name))
      throw Error(options.source + ": inside the destination's " + name + "/ folder; choose another destination");

  const auto spec = resolve_sizes(options);

  if (fs::exists(dst, ec)) {
    if (!fs::is_directory(dst, ec)) throw Error(options.destination + ": exists and is not a folder");
    if (!options.force && !fs::is_empty(dst, ec))
      throw Error(options.destination + ": not empty (holds " + list_entries(dst, 4) +
                  "); imagefit split never overwrites: choose a new folder, or add --force to add to it "
                  "(it keeps every existing file)");
  }

  check_source_layout(src);
  const ImageSet set = scan_class_folders(options.source);

  SplitPlan plan;
  plan.options = options;
  plan.classes = set.classes;
  plan.class_totals = set.class_counts();
  plan.counts.resize(set.classes.size());

  std::vector<std::vector<std::string>> members(set.classes.size());
  for (const auto& im : set.images) members[size_t(im.label)].push_back(im.path);  // sorted by path

  std::vector<std::string> too_few;
  for (size_t c = 0; c < set.classes.size(); ++c) {
    const size_t errors_before = too_few.size();
    plan.counts[c] =
        class_sizes(spec, plan.class_totals[c], set.classes[c], options.allow_fewer, too_few, plan.warnings);
    if (too_few.size() > errors_before) continue;  // reported below, with every other class that is short
    auto& paths = members[c];
    Rng rng(mix_seed({options.seed, 0x5B117ull, name_hash(set.classes[c])}));
    portable_shuffle(paths, rng);
    // Test first, then validation, then train: drawn from one shuffled order, so the splits never share an image.
    size_t next = 0;
    for (int s : {kTestSplit, kValidationSplit, kTrainSplit}) {
      const fs::path folder = dst / kSplitFolderNames[s] / set.classes[c];
      for (size_t i = 0; i < plan.counts[c][s]; ++i, ++next) {
        const fs::path p(paths[next]);
        plan.files.push_back({p.string(), (folder / p.filename()).string(), s, int(c), false});
      }
    }
  }
  if (!too_few.empty()) {
    std::string msg = "too few images: ";
    for (size_t i = 0; i < too_few.size(); ++i) msg += (i ? "; " : "") + too_few[i];
    throw Error(msg + ". Ask for less, or add --allow-fewer to take what there is, in proportion");
  }
  std::sort(plan.files.begin(), plan.files.end(), [](const SplitFile& a, const SplitFile& b) {
    if (a.split != b.split) return a.split < b.split;
    if (a.label != b.label) return a.label < b.label;
    return a.destination < b.destination;
  });
  for (size_t c = 0; c < plan.classes.size(); ++c)
    for (int s = 0; s < 3; ++s)
      if (plan.counts[c][s] == 0 && plan.split_total(s) > 0)
        plan.warnings.push_back("class '" + plan.classes[c] + "' gets no " + kSplitFolderNames[s] +
                                " images (a dataset reader will see a missing class folder)");

  if (options.mode == SplitMode::kHardlink) {
    struct stat a {
    }, b{};
    const fs::path dst_fs = existing_ancestor(dst);
    if (::stat(src.c_str(), &a) == 0 && ::stat(dst_fs.c_str(), &b) == 0 && a.st_dev != b.st_dev)
      throw Error("hard links need the source and the destination on the same file system (" + options.source +
                  " and " + dst_fs.string() + " are not); use --mode copy or --mode symlink");
  }

  // With --force the destination may already hold files: the same content is skipped, anything else refused.
  if (fs::exists(dst, ec)) {
    std::vector<std::string> conflicts;
    for (int s = 0; s < 3; ++s) {
      if (plan.split_total(s) == 0) continue;
      const fs::path split_dir = dst / kSplitFolderNames[s];
      if (fs::exists(split_dir, ec) && !fs::is_directory(split_dir, ec))
        conflicts.push_back(split_dir.string() + " is not a folder");
      for (size_t c = 0; c < plan.classes.size(); ++c) {
        const fs::path class_dir = split_dir / plan.classes[c];
        if (plan.counts[c][s] > 0 && fs::exists(class_dir, ec) && !fs::is_directory(class_dir, ec))
          conflicts.push_back(class_dir.string() + " is not a folder");
      }
    }
    for (auto& f : plan.files) {
      if (!fs::exists(fs::symlink_status(f.destination, ec))) continue;
      f.already_there = already_placed(f, options.mode);
      if (!f.already_there) conflicts.push_back(f.destination + " exists with other content than " + f.source);
    }
    if (!conflicts.empty()) {
      std::string msg = options.destination + ": " + plural(static_cast<long long>(conflicts.size()), "planned file") +
                        (conflicts.size() == 1 ? " would overwrite an existing one" : " would overwrite existing ones") +
                        ", which imagefit split never does: ";
      for (size_t i = 0; i < conflicts.size() && i < 5; ++i) msg += (i ? "; " : "") + conflicts[i];
      if (conflicts.size() > 5) msg += "; ...";
      throw Error(msg);
    }
  }
  return plan;
}

SplitResult execute_split(const SplitPlan& plan, const std::function<void(size_t, size_t)>& progress) {
  const fs::path dst(plan.options.destination);
  const std::string verb = split_mode_verb(plan.options.mode);
  SplitResult result;
  auto done_so_far = [&] {
    const size_t planned = plan.files_to_write();
    std::string s = with_commas(static_cast<long long>(result.written)) + " of " + plural(static_cast<long long>(planned), "file") +
                    (result.written == 1 ? " was " : " were ") + verb +
                    " into " + plan.options.destination + " before this";
    if (result.written > 0) s += " (kept; fix the problem and run again with --force to add the rest)";
    if (plan.options.mode == SplitMode::kMove) s += "; the others are still in " + plan.options.source;
    return s;
  };
  for (size_t c = 0; c < plan.classes.size(); ++c)
    for (int s = 0; s < 3; ++s) {
      if (plan.counts[c][s] == 0) continue;
      const fs::path dir = dst / kSplitFolderNames[s] / plan.classes[c];
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) throw Error("cannot create the folder " + dir.string() + ": " + ec.message() + "; " + done_so_far());
    }
  for (size_t i = 0; i < plan.files.size(); ++i) {
    const SplitFile& f = plan.files[i];
    if (f.already_there) {
      ++result.skipped;
    } else {
      try {
        place_file(f, plan.options.mode);
      } catch (const Error& e) {
        throw Error(std::string(e.what()) + "; " + done_so_far());
      } catch (const std::exception& e) {
        throw Error(f.source + ": " + e.what() + "; " + done_so_far());
      }
      ++result.written;
    }
    if (progress) progress(i + 1, plan.files.size());
  }
  return result;
}

}  // namespace imagefit

#include "weights/hdf5_file.h"

#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>

#include "core/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define IMAGEFIT_HAS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define IMAGEFIT_HAS_SANITIZER 1
#endif
#endif
#ifndef IMAGEFIT_HAS_SANITIZER
#define IMAGEFIT_HAS_SANITIZER 0
#endif
#if IMAGEFIT_HAS_SANITIZER
#include <sanitizer/common_interface_defs.h>
#endif

namespace imagefit {

namespace {

static_assert(sizeof(hid_t) <= sizeof(int64_t), "hid_t must fit the id stored in Hdf5File");

constexpr int kSanitizerExit = 86;  // the child of check_in_child, after a sanitizer's report

// The serial HDF5 library is not thread-safe: every call goes through this lock.
std::mutex& hdf5_mutex() {
  static std::mutex m;
  return m;
}

// HDF5's own description of the last failure (the innermost one), then clears its error stack.
std::string hdf5_error() {
  std::vector<std::string> messages;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        if (e->desc && *e->desc) static_cast<std::vector<std::string>*>(data)->push_back(e->desc);
        return 0;
      },
      &messages);
  H5Eclear2(H5E_DEFAULT);
  return messages.empty() ? "unknown HDF5 error" : messages.front();
}

// An HDF5 identifier closed on scope exit.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// The group tree is walked here, not with H5Lvisit: HDF5 1.10's H5Lvisit remembers only objects
// whose link count is above 1, so a damaged file with a group linked into itself (and a count of 1)
// made it recurse until the stack overflowed, a segfault (found by fuzzing:
// fuzz/corpus/keras_h5/regress_hdf5_group_cycle). Here each object is visited once, whatever its
// count says, in name order and depth first as H5Lvisit does, at most kMaxGroupDepth groups deep.
constexpr int kMaxGroupDepth = 64;

struct Walk {
  std::vector<Hdf5File::Dataset>* out;
  std::set<std::string> seen;  // objects visited, by their address in the file
};

// An object's identity in the file (its address), or "" if HDF5 cannot tell.
std::string object_key(hid_t object) {
#if H5_VERSION_GE(1, 12, 0)
  H5O_info2_t info;
  if (H5Oget_info3(object, &info, H5O_INFO_BASIC) < 0) return "";
  return std::to_string(info.fileno) + ":" + std::string(reinterpret_cast<const char*>(&info.token), sizeof info.token);
#else
  H5O_info_t info;
  if (H5Oget_info2(object, &info, H5O_INFO_BASIC) < 0) return "";
  return std::to_string(info.fileno) + ":" + std::to_string(info.addr);
#endif
}

herr_t collect_hard_link(hid_t, const char* name, const H5L_info_t* info, void* names) {
  // Soft and external links are not part of this file's tree.
  if (info->type == H5L_TYPE_HARD) static_cast<std::vector<std::string>*>(names)->push_back(name);
  return 0;
}

Hdf5File::Dataset describe_dataset(hid_t object, const std::string& path) {
  Hdf5File::Dataset d;
  d.path = path;
  Handle space(H5Dget_space(object), H5Sclose);
  Handle type(H5Dget_type(object), H5Tclose);
  if (!space.ok() || !type.ok()) throw Error("cannot read dataset '" + d.path + "': " + hdf5_error());
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) throw Error("cannot read the shape of dataset '" + d.path + "': " + hdf5_error());
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
    throw Error("cannot read the shape of dataset '" + d.path + "': " + hdf5_error());
  for (hsize_t n : dims) {
    if (n > hsize_t(INT64_MAX)) throw Error("dataset '" + d.path + "' has a size of " + std::to_string(n));
    d.shape.push_back(static_cast<int64_t>(n));
  }
  d.is_float = H5Tget_class(type.get()) == H5T_FLOAT;
  return d;
}

// The datasets below `group` (whose path in the file, with a trailing '/', is `prefix`), into `walk`.
void walk_group(hid_t group, const std::string& prefix, int depth, Walk& walk) {
  if (depth > kMaxGroupDepth) throw Error("groups nested more than " + std::to_string(kMaxGroupDepth) + " deep");
  std::vector<std::string> names;
  hsize_t index = 0;
  if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &index, collect_hard_link, &names) < 0)
    throw Error("cannot list group '" + prefix + "': " + hdf5_error());
  for (const std::string& name : names) {
    Handle object(H5Oopen(group, name.c_str(), H5P_DEFAULT), H5Oclose);
    if (!object.ok()) throw Error("cannot open '" + prefix + name + "': " + hdf5_error());
    const std::string key = object_key(object.get());
    if (key.empty()) throw Error("cannot read '" + prefix + name + "': " + hdf5_error());
    if (!walk.seen.insert(key).second) continue;  // linked a second time (or into itself)
    const H5I_type_t kind = H5Iget_type(object.get());
    if (kind == H5I_DATASET) walk.out->push_back(describe_dataset(object.get(), prefix + name));
    if (kind == H5I_GROUP) walk_group(object.get(), prefix + name + "/", depth + 1, walk);
  }
}

std::string group_prefix(const std::string& group) {
  std::string p = group;
  while (!p.empty() && p.front() == '/') p.erase(p.begin());
  if (!p.empty() && p.back() != '/') p += '/';
  return p;
}

// What the members below do, without the lock (the child process of check_in_child reads with them).
hid_t open_file(const std::string& path) {
  if (!std::ifstream(path, std::ios::binary)) throw Error("cannot open " + path + " (missing or not readable)");
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw Error(path + ": not an HDF5 file (a Keras .h5 weights file is HDF5)");
  }
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw Error(path + ": cannot read this HDF5 file, it may be truncated or damaged (" + hdf5_error() + ")");
  return id;
}

bool group_exists(hid_t file, const std::string& group) {
  const std::string rel = group_prefix(group);
  if (rel.empty()) return true;
  // H5Lexists needs every intermediate link to exist: check component by component.
  std::string sofar;
  for (size_t pos = 0; pos < rel.size();) {
    const size_t slash = rel.find('/', pos);
    sofar += rel.substr(pos, slash - pos);
    if (H5Lexists(file, sofar.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    sofar += '/';
    pos = slash + 1;
  }
  Handle object(H5Oopen(file, rel.c_str(), H5P_DEFAULT), H5Oclose);
  if (!object.ok()) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  return H5Iget_type(object.get()) == H5I_GROUP;
}

std::vector<Hdf5File::Dataset> list_datasets(hid_t file, const std::string& group, const std::string& path) {
  std::vector<Hdf5File::Dataset> out;
  const std::string rel = group_prefix(group);
  Handle g(H5Gopen2(file, rel.empty() ? "/" : rel.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.ok()) throw Error(path + ": cannot open group '" + group + "' (" + hdf5_error() + ")");
  Walk walk{&out, {}};
  try {
    walk.seen.insert(object_key(g.get()));
    walk_group(g.get(), rel, 0, walk);
  } catch (const Error& e) {
    H5Eclear2(H5E_DEFAULT);
    throw Error(path + ": cannot list the contents of this HDF5 file, it may be damaged (" + e.what() + ")");
  }
  return out;
}

std::vector<float> read_dataset(hid_t file, const std::string& dataset, const std::string& path) {
  Handle d(H5Dopen2(file, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.ok()) throw Error(path + ": cannot open dataset '" + dataset + "' (" + hdf5_error() + ")");
  Handle type(H5Dget_type(d.get()), H5Tclose);
  Handle space(H5Dget_space(d.get()), H5Sclose);
  if (!type.ok() || !space.ok()) throw Error(path + ": cannot read dataset '" + dataset + "' (" + hdf5_error() + ")");
  if (H5Tget_class(type.get()) != H5T_FLOAT) throw Error(path + ": dataset '" + dataset + "' does not hold floats");
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) throw Error(path + ": cannot read the size of dataset '" + dataset + "' (" + hdf5_error() + ")");
  // Sizes checked against the file before HDF5 or this function allocates (found by fuzzing: a
  // float type forged to 4 GB an element made H5Dread allocate that much for a 36-value dataset).
  const size_t type_size = H5Tget_size(type.get());
  if (type_size != 2 && type_size != 4 && type_size != 8)
    throw Error(path + ": dataset '" + dataset + "' has a float type of " + std::to_string(type_size) +
                " bytes (expected 2, 4 or 8)");
  // Stored bytes bound the values: uncompressed data is stored whole (a dataset never written has
  // none, and a forged extent made this allocate its declared size); compressed data at most
  // deflate's 1032:1.
  const uint64_t stored = H5Dget_storage_size(d.get());
  Handle create(H5Dget_create_plist(d.get()), H5Pclose);
  if (!create.ok()) throw Error(path + ": cannot read dataset '" + dataset + "' (" + hdf5_error() + ")");
  const bool filtered = H5Pget_nfilters(create.get()) > 0;
  // A weights file holds its own data: external raw files and virtual datasets would make a forged
  // file read other files of this machine.
  if (H5Pget_external_count(create.get()) != 0 || H5Pget_layout(create.get()) == H5D_VIRTUAL)
    throw Error(path + ": dataset '" + dataset + "' keeps its values outside this file (external or virtual "
                "storage), which imagefit does not read");
  const uint64_t needed = uint64_t(n) > (uint64_t(1) << 60) ? UINT64_MAX : uint64_t(n) * type_size;
  const uint64_t bound = filtered ? (stored > (uint64_t(1) << 53) ? UINT64_MAX : stored * 1032) : stored;
  if (n > 0 && needed > bound)
    throw Error(path + ": dataset '" + dataset + "' declares " + std::to_string(n) + " values (" +
                std::to_string(needed) + " bytes) but the file stores " + std::to_string(stored) +
                " bytes of it; the file may be truncated or damaged");
  std::vector<float> values(static_cast<size_t>(n));
  if (n > 0 && H5Dread(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    throw Error(path + ": cannot read dataset '" + dataset + "', the file may be truncated or damaged (" +
                hdf5_error() + ")");
  return values;
}

// libhdf5 1.10 (Debian 12's) crashes on some damaged files, and imagefit cannot check their
// metadata for it (found by fuzzing: a segfault on a forged local heap,
// fuzz/corpus/keras_h5/regress_hdf5_heap_segv). So a child process first reads the file as the
// Keras loader does (its weights group, every float dataset listed and read by name); HDF5 is
// deterministic, so what the child survives, this process survives, and a file that kills the child
// is refused with an error instead of ending imagefit. The child runs with the lock held by its
// parent's thread (no other thread is in HDF5 at the fork) and takes no lock itself.
void check_in_child(const std::string& path) {
  const pid_t pid = ::fork();
  if (pid < 0) return;  // no child: read in process as before
  if (pid == 0) {
    // A crash in HDF5 ends the child with its signal, past any handler (libFuzzer's, a sanitizer's).
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) ::signal(sig, SIG_DFL);
#if IMAGEFIT_HAS_SANITIZER
    // A sanitizer's report (imagefit's code, or an HDF5 call into an intercepted libc function) is
    // passed on: the parent aborts too, so tests and fuzzing see it.
    __sanitizer_set_death_callback([] { ::_exit(kSanitizerExit); });
#endif
    try {
      const hid_t file = open_file(path);
      // As weights/keras_h5.cpp reads: the saved model's weights group, else the whole file.
      const std::string root = group_exists(file, "model_weights") ? "model_weights" : "/";
      for (const auto& d : list_datasets(file, root, path))
        if (d.is_float) read_dataset(file, d.path, path);
      H5Fclose(file);
    } catch (...) {  // an error: this process reports it when it reads the file
    }
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return;
#if IMAGEFIT_HAS_SANITIZER
  if (WIFEXITED(status) && WEXITSTATUS(status) == kSanitizerExit) {
    std::fprintf(stderr, "imagefit: a sanitizer reported an error reading %s in a child process (above)\n", path.c_str());
    std::abort();
  }
#endif
  if (WIFSIGNALED(status))
    throw Error(path + ": cannot read this HDF5 file, it is damaged or forged (the HDF5 library crashed on it: " +
                ::strsignal(WTERMSIG(status)) + ")");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(path + ": cannot read this HDF5 file, it is damaged or forged (the HDF5 library failed on it, exit " +
                std::to_string(WEXITSTATUS(status)) + ")");
}

}  // namespace

Hdf5File::Hdf5File(const std::string& path) : path_(path) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become exceptions, not stderr noise
  if (!std::ifstream(path, std::ios::binary)) throw Error("cannot open " + path + " (missing or not readable)");
  check_in_child(path);
  id_ = open_file(path);
}

Hdf5File::~Hdf5File() {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  if (id_ >= 0) H5Fclose(id_);
}

bool Hdf5File::has_group(const std::string& group) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  return group_exists(id_, group);
}

std::vector<Hdf5File::Dataset> Hdf5File::datasets(const std::string& group) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  return list_datasets(id_, group, path_);
}

std::vector<float> Hdf5File::read_floats(const std::string& dataset) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  return read_dataset(id_, dataset, path_);
}

}  // namespace imagefit

#include "weights/hdf5_file.h"

#include <hdf5.h>

#include <fstream>
#include <mutex>

#include "core/error.h"

namespace imagefit {

namespace {

static_assert(sizeof(hid_t) <= sizeof(int64_t), "hid_t must fit the id stored in Hdf5File");

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

struct VisitState {
  std::string prefix;
  std::vector<Hdf5File::Dataset>* out;
  std::string error;
};

herr_t visit_link(hid_t group, const char* name, const H5L_info_t* info, void* data) {
  auto* state = static_cast<VisitState*>(data);
  if (info->type != H5L_TYPE_HARD) return 0;  // soft and external links: not part of this file's tree
  Handle object(H5Oopen(group, name, H5P_DEFAULT), H5Oclose);
  if (!object.ok()) {
    state->error = std::string("cannot open '") + name + "': " + hdf5_error();
    return -1;
  }
  if (H5Iget_type(object.get()) != H5I_DATASET) return 0;
  Hdf5File::Dataset d;
  d.path = state->prefix + name;
  Handle space(H5Dget_space(object.get()), H5Sclose);
  Handle type(H5Dget_type(object.get()), H5Tclose);
  if (!space.ok() || !type.ok()) {
    state->error = "cannot read dataset '" + d.path + "': " + hdf5_error();
    return -1;
  }
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) {
    state->error = "cannot read the shape of dataset '" + d.path + "': " + hdf5_error();
    return -1;
  }
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  for (hsize_t n : dims) d.shape.push_back(static_cast<int64_t>(n));
  d.is_float = H5Tget_class(type.get()) == H5T_FLOAT;
  state->out->push_back(std::move(d));
  return 0;
}

std::string group_prefix(const std::string& group) {
  std::string p = group;
  while (!p.empty() && p.front() == '/') p.erase(p.begin());
  if (!p.empty() && p.back() != '/') p += '/';
  return p;
}

}  // namespace

Hdf5File::Hdf5File(const std::string& path) : path_(path) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become exceptions, not stderr noise
  if (!std::ifstream(path, std::ios::binary)) throw Error("cannot open " + path + " (missing or not readable)");
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw Error(path + ": not an HDF5 file (a Keras .h5 weights file is HDF5)");
  }
  id_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id_ < 0)
    throw Error(path + ": cannot read this HDF5 file, it may be truncated or damaged (" + hdf5_error() + ")");
}

Hdf5File::~Hdf5File() {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  if (id_ >= 0) H5Fclose(id_);
}

bool Hdf5File::has_group(const std::string& group) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  const std::string rel = group_prefix(group);
  if (rel.empty()) return true;
  // H5Lexists needs every intermediate link to exist: check component by component.
  std::string sofar;
  for (size_t pos = 0; pos < rel.size();) {
    const size_t slash = rel.find('/', pos);
    sofar += rel.substr(pos, slash - pos);
    if (H5Lexists(id_, sofar.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    sofar += '/';
    pos = slash + 1;
  }
  Handle object(H5Oopen(id_, rel.c_str(), H5P_DEFAULT), H5Oclose);
  if (!object.ok()) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  return H5Iget_type(object.get()) == H5I_GROUP;
}

std::vector<Hdf5File::Dataset> Hdf5File::datasets(const std::string& group) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  std::vector<Dataset> out;
  const std::string rel = group_prefix(group);
  Handle g(H5Gopen2(id_, rel.empty() ? "/" : rel.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.ok()) throw Error(path_ + ": cannot open group '" + group + "' (" + hdf5_error() + ")");
  VisitState state{rel, &out, ""};
  if (H5Lvisit(g.get(), H5_INDEX_NAME, H5_ITER_INC, visit_link, &state) < 0) {
    const std::string why = state.error.empty() ? hdf5_error() : state.error;
    H5Eclear2(H5E_DEFAULT);
    throw Error(path_ + ": cannot list the contents of this HDF5 file, it may be damaged (" + why + ")");
  }
  return out;
}

std::vector<float> Hdf5File::read_floats(const std::string& dataset) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  Handle d(H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.ok()) throw Error(path_ + ": cannot open dataset '" + dataset + "' (" + hdf5_error() + ")");
  Handle type(H5Dget_type(d.get()), H5Tclose);
  Handle space(H5Dget_space(d.get()), H5Sclose);
  if (!type.ok() || !space.ok()) throw Error(path_ + ": cannot read dataset '" + dataset + "' (" + hdf5_error() + ")");
  if (H5Tget_class(type.get()) != H5T_FLOAT) throw Error(path_ + ": dataset '" + dataset + "' does not hold floats");
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) throw Error(path_ + ": cannot read the size of dataset '" + dataset + "' (" + hdf5_error() + ")");
  std::vector<float> values(static_cast<size_t>(n));
  if (n > 0 && H5Dread(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    throw Error(path_ + ": cannot read dataset '" + dataset + "', the file may be truncated or damaged (" +
                hdf5_error() + ")");
  return values;
}

}  // namespace imagefit

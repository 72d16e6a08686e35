// Reading torch.save files without Python: the pickle (pickle_reader.h) says which tensors there are
// and where their storages are; the storages are raw little-endian arrays, either records of the zip
// archive (`<name>/data/<key>`) or, in the legacy format, blocks after the pickles.
#include "weights/torchvision_pth.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "core/error.h"
#include "weights/pickle_reader.h"
#include "weights/torchvision_arch.h"

namespace imagefit {

namespace {

using pickle::Kind;
using pickle::StorageRef;
using pickle::Value;
using pickle::ValuePtr;

constexpr size_t kMaxRank = 16;  // state_dict tensors have at most 5
constexpr int64_t kMaxExpandedElements = int64_t(1) << 28;

struct DtypeInfo {
  torch::ScalarType type;
  size_t size;
};

std::optional<DtypeInfo> dtype_info(const std::string& name) {
  static const std::map<std::string, DtypeInfo> table = {
      {"Float", {torch::kFloat32, 4}},   {"Double", {torch::kFloat64, 8}},  {"Half", {torch::kFloat16, 2}},
      {"BFloat16", {torch::kBFloat16, 2}}, {"Long", {torch::kInt64, 8}},    {"Int", {torch::kInt32, 4}},
      {"Short", {torch::kInt16, 2}},     {"Char", {torch::kInt8, 1}},       {"Byte", {torch::kUInt8, 1}},
      {"Bool", {torch::kBool, 1}},       {"ComplexFloat", {torch::kComplexFloat, 8}},
      {"ComplexDouble", {torch::kComplexDouble, 16}}};
  auto it = table.find(name);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

DtypeInfo require_dtype(const StorageRef& ref, const std::string& path) {
  auto info = dtype_info(ref.dtype);
  if (!info) throw Error(path + ": unsupported tensor storage type '" + ref.dtype + "Storage'");
  return *info;
}

// A pickled object and the way to read the storages it names.
struct Loaded {
  ValuePtr root;
  // A root storage's ref.numel elements (1-D), checked against what the file holds before the tensor
  // is allocated: a few bytes of pickle can claim a storage of terabytes.
  std::function<torch::Tensor(const StorageRef& ref)> read_storage;
  std::map<std::string, std::shared_ptr<StorageRef>> storages;
};

// ---- zip format (torch.save since PyTorch 1.6) ----

class ZipArchive {
 public:
  explicit ZipArchive(const std::string& path) : path_(path) {
    int err = 0;
    zip_ = zip_open(path.c_str(), ZIP_RDONLY, &err);
    if (!zip_) {
      zip_error_t ze;
      zip_error_init_with_code(&ze, err);
      std::string why = zip_error_strerror(&ze);
      zip_error_fini(&ze);
      throw Error(path + ": not a readable zip archive (" + why + "); the file is truncated or corrupt");
    }
    std::error_code ec;
    file_size_ = std::filesystem::file_size(path, ec);
    if (ec) file_size_ = 0;
  }
  ~ZipArchive() { zip_discard(zip_); }
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    const zip_int64_t n = zip_get_num_entries(zip_, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      const char* name = zip_get_name(zip_, static_cast<zip_uint64_t>(i), 0);
      if (name) out.emplace_back(name);
    }
    return out;
  }
  bool has(const std::string& name) const { return zip_name_locate(zip_, name.c_str(), 0) >= 0; }
  uint64_t size(const std::string& name) const {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat(zip_, name.c_str(), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      throw Error(path_ + ": the archive has no record '" + name + "' (file incomplete or not written by torch.save)");
    // The sizes in a zip's directory are the writer's word: a forged one made read_all allocate
    // 3.4 GB for a 1.4 KB file (found by fuzzing: fuzz/corpus/pth/regress_zip_record_size). The bytes
    // stored bound them: at most the file, and uncompressed at most deflate's 1032:1 of those
    // (torch.save stores its records uncompressed).
    const uint64_t stored = (st.valid & ZIP_STAT_COMP_SIZE) ? st.comp_size : UINT64_MAX;
    const bool compressed = !(st.valid & ZIP_STAT_COMP_METHOD) || st.comp_method != ZIP_CM_STORE;
    if (stored > file_size_ || st.size > (compressed ? stored * 1032 : stored))
      throw Error(path_ + ": record '" + name + "' declares " + std::to_string(st.size) +
                  " bytes, more than the archive holds (file corrupt)");
    return st.size;
  }
  // Reads the first `n` bytes of a record into `dst`.
  void read(const std::string& name, void* dst, uint64_t n) const {
    zip_file_t* f = zip_fopen(zip_, name.c_str(), 0);
    if (!f) throw Error(path_ + ": cannot open record '" + name + "' (" + zip_strerror(zip_) + ")");
    uint64_t done = 0;
    while (done < n) {
      const zip_int64_t got = zip_fread(f, static_cast<char*>(dst) + done, n - done);
      if (got <= 0) break;
      done += static_cast<uint64_t>(got);
    }
    zip_fclose(f);
    if (done != n) throw Error(path_ + ": record '" + name + "' is truncated or corrupt");
  }
  std::string read_all(const std::string& name) const {
    std::string s(size(name), '\0');
    read(name, s.data(), s.size());
    return s;
  }

 private:
  std::string path_;
  zip_t* zip_ = nullptr;
  uint64_t file_size_ = 0;
};

Loaded load_zip(const std::string& path) {
  auto archive = std::make_shared<ZipArchive>(path);
  // The top folder is named after the file torch.save first wrote ("archive", "resnet18-f37072fd", ...).
  std::string prefix;
  bool torchscript = false;
  for (const auto& name : archive->names()) {
    const size_t slash = name.find('/');
    if (slash != std::string::npos && name.compare(slash, std::string::npos, "/data.pkl") == 0) prefix = name.substr(0, slash + 1);
    if (slash != std::string::npos && name.compare(slash + 1, 5, "code/") == 0) torchscript = true;
  }
  if (torchscript)
    throw Error(path + ": is a TorchScript model (torch.jit.save), not a state_dict; in Python, save "
                "model.state_dict() with torch.save");
  if (prefix.empty())
    throw Error(path + ": a zip archive, but not one written by torch.save (it has no <name>/data.pkl)");
  if (archive->has(prefix + "byteorder") && archive->read_all(prefix + "byteorder") == "big")
    throw Error(path + ": was saved on a big-endian machine, which imagefit does not read");

  const std::string pkl = archive->read_all(prefix + "data.pkl");
  pickle::Unpickler unpickler(reinterpret_cast<const uint8_t*>(pkl.data()), pkl.size(), path);
  Loaded out;
  out.root = unpickler.load();
  out.storages = unpickler.storages();
  out.read_storage = [archive, prefix, path](const StorageRef& ref) {
    const std::string record = prefix + "data/" + ref.key;
    const DtypeInfo info = require_dtype(ref, path);
    // numel · size could wrap: compare by division.
    if (static_cast<uint64_t>(ref.numel) > archive->size(record) / info.size)
      throw Error(path + ": storage record '" + record + "' is shorter than its tensors need (file corrupt)");
    torch::Tensor dst = torch::empty({ref.numel}, torch::TensorOptions().dtype(info.type));
    if (ref.numel > 0) archive->read(record, dst.data_ptr(), static_cast<uint64_t>(ref.numel) * info.size);
    return dst;
  };
  return out;
}

// ---- legacy format (_use_new_zipfile_serialization=False, and files from before PyTorch 1.6) ----

class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY);
    if (fd_ < 0) throw Error("cannot open weights file " + path + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd_, &st) != 0) {
      ::close(fd_);
      throw Error("cannot read weights file " + path);
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (p == MAP_FAILED) {
        ::close(fd_);
        throw Error("cannot map weights file " + path + ": " + std::strerror(errno));
      }
      data_ = static_cast<const uint8_t*>(p);
    }
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

Loaded load_legacy(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  pickle::Unpickler unpickler(file->data(), file->size(), path);
  // torch.serialization's MAGIC_NUMBER 0x1950a86a20f9469cfc6c, then PROTOCOL_VERSION 1001.
  static const uint8_t magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  ValuePtr m = unpickler.load();
  if (m->kind != Kind::BigInt || m->text != std::string(reinterpret_cast<const char*>(magic), sizeof(magic)))
    throw Error(path + ": a Python pickle, but not one written by torch.save (no torch magic number)");
  ValuePtr version = unpickler.load();
  if (version->kind != Kind::Int || version->integer != 1001)
    throw Error(path + ": unsupported legacy torch.save protocol version");
  ValuePtr sys_info = unpickler.load();
  for (const auto& [k, v] : sys_info->entries)
    if (k->kind == Kind::String && k->text == "little_endian" && v->kind == Kind::Bool && !v->boolean)
      throw Error(path + ": was saved on a big-endian machine, which imagefit does not read");

  Loaded out;
  out.root = unpickler.load();
  ValuePtr keys = unpickler.load();
  if (keys->kind != Kind::List) throw Error(path + ": malformed legacy torch.save file (no storage list)");
  // Each storage: int64 element count, then its bytes, in the order of the key list.
  auto storages = unpickler.storages();
  size_t pos = unpickler.position();
  std::map<std::string, std::pair<size_t, int64_t>> blocks;  // key → (byte offset, elements)
  for (const auto& k : keys->items) {
    if (k->kind != Kind::String) throw Error(path + ": malformed legacy torch.save file (storage key)");
    auto it = storages.find(k->text);
    if (it == storages.end()) throw Error(path + ": malformed legacy torch.save file (unknown storage " + k->text + ")");
    const size_t elem = require_dtype(*it->second, path).size;
    if (file->size() - pos < 8) throw Error(path + ": file is truncated (storage data ends early)");
    int64_t count = 0;
    std::memcpy(&count, file->data() + pos, 8);
    pos += 8;
    if (count < 0 || static_cast<uint64_t>(count) > (file->size() - pos) / elem)
      throw Error(path + ": file is truncated (storage data ends early)");
    blocks[k->text] = {pos, count};
    pos += static_cast<size_t>(count) * elem;
  }
  out.storages = storages;
  out.read_storage = [file, blocks, path](const StorageRef& ref) {
    auto it = blocks.find(ref.key);
    if (it == blocks.end()) throw Error(path + ": malformed legacy torch.save file (storage " + ref.key + " has no data)");
    if (it->second.second < ref.numel) throw Error(path + ": storage " + ref.key + " is shorter than its tensors need");
    const DtypeInfo info = require_dtype(ref, path);
    torch::Tensor dst = torch::empty({ref.numel}, torch::TensorOptions().dtype(info.type));
    if (ref.numel > 0) std::memcpy(dst.data_ptr(), file->data() + it->second.first, static_cast<size_t>(ref.numel) * info.size);
    return dst;
  };
  return out;
}

// ---- from pickled values to tensors ----

bool is_tensor_dict(const Value& v) {
  if (v.kind != Kind::Dict || v.entries.empty()) return false;
  for (const auto& [k, t] : v.entries)
    if (k->kind != Kind::String || t->kind != Kind::Tensor) return false;
  return true;
}

std::string key_list(const Value& dict, size_t max = 8) {
  std::string s;
  size_t n = 0;
  for (const auto& [k, v] : dict.entries) {
    if (n++ == max) return s + ", ...";
    s += (s.empty() ? "" : ", ") + (k->kind == Kind::String ? "'" + k->text + "'" : std::string(pickle::kind_name(k->kind)));
  }
  return s;
}

// The state_dict: the file's top-level dict of tensors, or the one a checkpoint dict wraps.
const Value& select_state_dict(const Value& root, const std::string& path) {
  if (is_tensor_dict(root)) return root;
  if (root.kind == Kind::Dict) {
    if (root.entries.empty()) throw Error(path + ": holds an empty dict, no weights");
    std::vector<std::pair<std::string, const Value*>> found;
    for (const auto& [k, v] : root.entries)
      if (k->kind == Kind::String && is_tensor_dict(*v)) found.emplace_back(k->text, v.get());
    if (found.size() == 1) return *found.front().second;
    // Checkpoints keep more than one (the model and its EMA): prefer the names training scripts use.
    for (const char* preferred : {"state_dict", "model_state_dict", "model", "net", "network", "module", "weights"})
      for (const auto& [name, v] : found)
        if (name == preferred) return *v;
    if (found.size() > 1) {
      std::string names;
      for (const auto& [name, v] : found) names += (names.empty() ? "'" : ", '") + name + "'";
      throw Error(path + ": holds several state_dicts (" + names + ") and imagefit cannot tell which is the model");
    }
    throw Error(path + ": holds a dict with keys " + key_list(root) +
                ", but no state_dict (a dict of parameter names to tensors) in it");
  }
  if (root.kind == Kind::Object) {
    if (root.text.rfind("__torch__.", 0) == 0)
      throw Error(path + ": is a TorchScript model (torch.jit.save), not a state_dict");
    throw Error(path + ": holds a whole pickled object of class " + root.text +
                " (torch.save(model)), not a state_dict; in Python, use torch.save(model.state_dict(), path)");
  }
  throw Error(path + ": holds " + pickle::describe(root) + ", not a state_dict");
}

torch::Tensor make_tensor(const pickle::TensorRef& ref, const std::string& name, const std::string& path,
                          const std::function<torch::Tensor(const StorageRef&)>& storage) {
  const torch::Tensor flat = storage(*ref.storage);
  const int64_t numel = flat.numel();
  if (ref.sizes.size() > kMaxRank) throw Error(path + ": tensor '" + name + "' has " + std::to_string(ref.sizes.size()) + " dimensions");
  bool empty = false, overflow = false;
  int64_t last = ref.offset, count = 1;
  for (size_t i = 0; i < ref.sizes.size(); ++i) {
    if (ref.sizes[i] < 0 || ref.strides[i] < 0) throw Error(path + ": tensor '" + name + "' has a negative size or stride");
    if (ref.sizes[i] == 0) empty = true;
  }
  if (empty) return torch::empty(ref.sizes, flat.options());
  // Sizes and strides come from the file: the extent and the element count in checked arithmetic.
  for (size_t i = 0; i < ref.sizes.size(); ++i) {
    int64_t step = 0;
    overflow = overflow || __builtin_mul_overflow(ref.sizes[i] - 1, ref.strides[i], &step) ||
               __builtin_add_overflow(last, step, &last) || __builtin_mul_overflow(count, ref.sizes[i], &count);
  }
  if (ref.offset < 0 || overflow || last >= numel)
    throw Error(path + ": tensor '" + name + "' reaches past the end of its storage (file corrupt)");
  // More elements than its storage is an expanded (stride 0) view; it becomes a tensor of its own
  // below, so a few bytes could claim terabytes: such views are bounded (2^28 elements, 1 GiB of floats).
  if (count > numel && count > kMaxExpandedElements)
    throw Error(path + ": tensor '" + name + "' is an expanded view of " + std::to_string(count) +
                " elements, more than imagefit reads (file corrupt?)");
  torch::Tensor t = flat.as_strided(ref.sizes, ref.strides, ref.offset);
  // A view of a larger storage (a slice, a transpose) becomes a tensor of its own.
  if (ref.offset == 0 && t.numel() == numel && t.is_contiguous()) return t;
  return t.clone(torch::MemoryFormat::Contiguous);
}

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

}  // namespace

StateDict read_pth(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error("cannot open weights file " + path + ": " + std::strerror(errno));
  unsigned char head[4] = {};
  const size_t got = std::fread(head, 1, sizeof(head), f);
  std::fclose(f);
  if (got == 0) throw Error(path + ": the file is empty");

  Loaded loaded;
  if (got == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
    loaded = load_zip(path);
  } else if (head[0] == 0x80) {
    loaded = load_legacy(path);
  } else {
    throw Error(path + ": not a PyTorch .pth file (neither the zip archive nor the pickle torch.save writes)");
  }
  const Value& dict = select_state_dict(*loaded.root, path);

  // Root storages read once, on first use; legacy views narrow their root.
  std::map<std::string, torch::Tensor> cache;
  std::function<torch::Tensor(const StorageRef&)> storage = [&](const StorageRef& ref) -> torch::Tensor {
    auto it = cache.find(ref.key);
    if (it != cache.end()) return it->second;
    require_dtype(ref, path);
    if (ref.numel < 0) throw Error(path + ": storage " + ref.key + " has a negative size");
    torch::Tensor flat;
    if (!ref.view_of.empty()) {
      auto root = loaded.storages.find(ref.view_of);
      if (root == loaded.storages.end()) throw Error(path + ": storage view of an unknown storage " + ref.view_of);
      torch::Tensor base = storage(*root->second);
      if (ref.view_offset < 0 || ref.view_offset > base.numel() || ref.numel > base.numel() - ref.view_offset)
        throw Error(path + ": storage view " + ref.key + " reaches past its storage (file corrupt)");
      flat = base.narrow(0, ref.view_offset, ref.numel);
    } else {
      flat = loaded.read_storage(ref);
    }
    cache[ref.key] = flat;
    return flat;
  };

  StateDict out;
  out.reserve(dict.entries.size());
  for (const auto& [k, v] : dict.entries) out.emplace_back(k->text, make_tensor(*v->tensor, k->text, path, storage));
  return out;
}

Pretrained load_torchvision_backbone(const std::string& path, const std::string& arch_hint) {
  const StateDict weights = strip_wrapper_prefix(read_pth(path));
  const TorchvisionArch detected = detect_torchvision_arch(weights, path);
  if (!arch_hint.empty() && arch_hint != detected.name)
    throw Error(path + ": holds torchvision " + detected.name + " weights, but the architecture asked for is '" +
                arch_hint + "'");
  Pretrained out;
  out.arch = detected.name;
  out.options = detected.options;
  out.backbone = make_backbone(detected.name, detected.options);
  load_state_dict(*out.backbone, without_classifier(weights), path);
  int64_t parameters = 0;
  for (const auto& p : out.backbone->parameters()) parameters += p.numel();
  std::string name = "torchvision " + detected.name;
  if (detected.name == "mobilenet_v2" && detected.options.alpha != 1.0) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), " alpha=%g", detected.options.alpha);
    name += buf;
  }
  out.description = name + " (" + with_commas(parameters) + " parameters)";
  return out;
}

}  // namespace imagefit

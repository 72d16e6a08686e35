#include "weights/model_file.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "models/input.h"
#include "models/registry.h"

namespace imagefit {

namespace {

constexpr char kMagic[8] = {'I', 'M', 'A', 'G', 'E', 'F', 'I', 'T'};
constexpr char kEndMagic[8] = {'I', 'F', 'I', 'T', 'E', 'N', 'D', '\n'};

uint64_t fnv1a(const char* data, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(data[i])) * 0x100000001b3ull;
  return h;
}

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
T get(const std::string& in, size_t pos) {
  T v;
  std::memcpy(&v, in.data() + pos, sizeof v);
  return v;
}

std::string dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "float32";
    case torch::kInt64: return "int64";
    default: throw Error(std::string("internal: cannot store tensor of type ") + c10::toString(t));
  }
}
torch::ScalarType dtype_from(const std::string& s) {
  if (s == "float32") return torch::kFloat32;
  if (s == "int64") return torch::kInt64;
  throw Error("unknown tensor type '" + s + "'");
}

// A forged header may nest JSON arbitrarily deep; dump() (imagefit info --json) recurses, so a
// bound keeps it off the stack's edge. Real headers nest 4 levels.
constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxTensorRank = 8;

// Parses the whole file held in `bytes`; checks magic, version, length, checksum.
nlohmann::json parse_header(const std::string& path, const std::string& bytes, size_t& data_start) {
  const std::string what = path + ": ";
  if (bytes.size() < 24 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    throw Error(what + "not an imagefit model file (expected a file written by 'imagefit train')");
  uint32_t version = get<uint32_t>(bytes, 8);
  if (version > kModelFormatVersion)
    throw Error(what + "model format version " + std::to_string(version) + " is newer than this imagefit supports (" +
                std::to_string(kModelFormatVersion) + "); upgrade imagefit");
  uint64_t json_len = get<uint64_t>(bytes, 16);
  if (bytes.size() < 16 + 8 + 16 || json_len > bytes.size() - 24 - 16)
    throw Error(what + "truncated model file (" + std::to_string(bytes.size()) + " bytes)");
  if (std::memcmp(bytes.data() + bytes.size() - 8, kEndMagic, 8) != 0)
    throw Error(what + "truncated model file (its end marker is missing; was it copied completely?)");
  uint64_t stored_hash = get<uint64_t>(bytes, bytes.size() - 16);
  if (fnv1a(bytes.data(), bytes.size() - 16) != stored_hash)
    throw Error(what + "corrupt model file (checksum mismatch)");
  nlohmann::json meta;
  try {
    const auto depth_limit = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > kMaxJsonDepth) throw Error("nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
      return true;
    };
    meta = nlohmann::json::parse(bytes.begin() + 24, bytes.begin() + 24 + std::ptrdiff_t(json_len), depth_limit);
  } catch (const std::exception& e) {
    throw Error(what + "corrupt model metadata: " + e.what());
  }
  if (!meta.is_object()) throw Error(what + "corrupt model metadata: not a JSON object");
  data_start = 24 + json_len;
  return meta;
}

// A tensor of the index, checked against the file before anything is allocated.
struct TensorEntry {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
  size_t offset, nbytes;
};

// A JSON value that must be a non-negative integer: a negative number would wrap when read as
// size_t, and 1.5 would be truncated.
uint64_t non_negative_integer(const nlohmann::json& v, const char* key) {
  if (!v.is_number_unsigned()) throw Error(std::string(key) + " " + v.dump() + " is not a non-negative integer");
  return v.get<uint64_t>();
}

std::vector<TensorEntry> tensor_index(const nlohmann::json& meta, size_t area) {
  if (!meta.contains("tensors") || !meta["tensors"].is_array()) throw Error("no tensor index");
  std::vector<TensorEntry> out;
  std::set<std::string> names;
  uint64_t total = 0;
  for (const auto& entry : meta["tensors"]) {
    if (!entry.is_object()) throw Error("a tensor index entry is not an object");
    TensorEntry t;
    const auto& name = entry.at("name");
    if (!name.is_string() || name.get<std::string>().empty()) throw Error("a tensor has no name");
    t.name = name.get<std::string>();
    if (!names.insert(t.name).second) throw Error("tensor '" + t.name + "' is listed twice");
    const std::string in = " of tensor '" + t.name + "'";
    const auto& dtype = entry.at("dtype");
    if (!dtype.is_string()) throw Error("dtype" + in + " is not a string");
    t.dtype = dtype_from(dtype.get<std::string>());
    const auto& shape = entry.at("shape");
    if (!shape.is_array() || shape.size() > kMaxTensorRank)
      throw Error("shape" + in + " is not a list of at most " + std::to_string(kMaxTensorRank) + " sizes");
    // numel · element size, in 64 bits without overflow: it must come to nbytes, which the file bounds.
    uint64_t bytes = torch::elementSize(t.dtype);
    for (const auto& d : shape) {
      const uint64_t n = non_negative_integer(d, ("shape" + in).c_str());
      if (n > uint64_t(INT64_MAX)) throw Error("shape" + in + " is too large");
      t.shape.push_back(int64_t(n));
      bytes = (n != 0 && bytes > UINT64_MAX / n) ? UINT64_MAX : bytes * n;
    }
    const uint64_t offset = non_negative_integer(entry.at("offset"), ("offset" + in).c_str());
    const uint64_t nbytes = non_negative_integer(entry.at("nbytes"), ("nbytes" + in).c_str());
    if (bytes != nbytes) throw Error("tensor '" + t.name + "': its shape needs " + std::to_string(bytes) +
                                     " bytes, the index says " + std::to_string(nbytes));
    // offset + nbytes <= area, written so that it cannot wrap.
    if (offset > area || nbytes > area - offset)
      throw Error("tensor '" + t.name + "' lies outside the tensor data (offset " + std::to_string(offset) + ", " +
                  std::to_string(nbytes) + " bytes, the data area holds " + std::to_string(area) + ")");
    // The writer lays tensors end to end: more bytes in all than the area would mean overlapping
    // entries, and a small file could then make the loader allocate its size many times over.
    if (nbytes > area - total) throw Error("the tensors listed need more bytes than the file holds");
    total += nbytes;
    t.offset = size_t(offset);
    t.nbytes = size_t(nbytes);
    out.push_back(std::move(t));
  }
  return out;
}

// The network description, checked before anything is built from it: a forged or damaged value
// must be a one-line error naming the file, not an allocation of gigabytes or LibTorch's trace.
void check_network(const nlohmann::json& net) {
  if (!net.is_object()) throw Error("\"network\" is not an object");
  auto need = [&](const nlohmann::json& obj, const char* key) -> const nlohmann::json& {
    if (!obj.contains(key)) throw Error("\"" + std::string(key) + "\" is missing");
    return obj[key];
  };
  auto integer = [&](const nlohmann::json& obj, const char* key, int64_t lo, int64_t hi) {
    const auto& v = need(obj, key);
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi ||
        (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(hi)))
      throw Error("\"" + std::string(key) + "\" is " + v.dump() + ", expected an integer from " + std::to_string(lo) +
                  " to " + std::to_string(hi));
    return v.get<int64_t>();
  };
  auto text = [&](const nlohmann::json& obj, const char* key) {
    const auto& v = need(obj, key);
    if (!v.is_string()) throw Error("\"" + std::string(key) + "\" is " + v.dump() + ", expected a string");
    return v.get<std::string>();
  };
  const std::string arch = text(net, "arch");
  find_architecture(arch);
  const auto& alpha = need(net, "alpha");
  if (!alpha.is_number() || !(alpha.get<double>() > 0 && alpha.get<double>() <= kMaxModelAlpha))
    throw Error("\"alpha\" is " + alpha.dump() + ", expected a width multiplier above 0 and at most " +
                std::to_string(int(kMaxModelAlpha)));
  integer(net, "image_size", kMinModelImageSize, kMaxModelImageSize);
  normalization_from_string(text(net, "normalization"));
  if (net.contains("resize")) resize_mode_from_string(text(net, "resize"));
  const auto& classes = need(net, "classes");
  if (!classes.is_array() || classes.empty() || classes.size() > kMaxModelClasses)
    throw Error("\"classes\" is not a list of 1 to " + std::to_string(kMaxModelClasses) + " class names");
  std::set<std::string> seen;
  for (const auto& c : classes)
    if (!c.is_string() || c.get<std::string>().empty() || !seen.insert(c.get<std::string>()).second)
      throw Error("\"classes\" holds " + c.dump() + ", expected distinct non-empty names");
  const auto& head = need(net, "head");
  if (!head.is_object()) throw Error("\"head\" is not an object");
  const std::string pooling = text(head, "pooling");
  if (pooling != "avg" && pooling != "flatten") throw Error("head \"pooling\" is '" + pooling + "', expected avg or flatten");
  integer(head, "in_features", 0, int64_t(1) << 40);
  integer(head, "hidden", 0, kMaxModelHidden);
  const auto& dropout = need(head, "dropout");
  if (!dropout.is_number() || !(dropout.get<double>() >= 0 && dropout.get<double>() < 1))
    throw Error("head \"dropout\" is " + dropout.dump() + ", expected a probability from 0 to below 1");
  const int64_t head_classes = integer(head, "classes", 1, int64_t(kMaxModelClasses));
  if (size_t(head_classes) != classes.size())
    throw Error("the head has " + std::to_string(head_classes) + " outputs but " + std::to_string(classes.size()) +
                " class names are listed");
}

// How inference scales the logits: a forged 0, negative or absurd temperature would turn every
// probability into a one-hot or uniform vector without a word.
void check_inference(const nlohmann::json& inf) {
  if (!inf.is_object()) throw Error("\"inference\" is not an object");
  for (const char* key : {"temperature", "tta_temperature"}) {
    if (!inf.contains(key)) continue;
    const auto& t = inf[key];
    const bool unset = std::string(key) == "tta_temperature" && t.is_number() && t.get<double>() == 0;
    if (!unset && (!t.is_number() || !(t.get<double>() >= kMinModelTemperature && t.get<double>() <= kMaxModelTemperature)))
      throw Error("inference \"" + std::string(key) + "\" is " + t.dump() + ", expected a temperature from 0.001 to 1000");
  }
  if (inf.contains("tta") && !inf["tta"].is_boolean())
    throw Error("inference \"tta\" is " + inf["tta"].dump() + ", expected true or false");
}

void check_metadata(const nlohmann::json& meta, const std::string& path) {
  try {
    if (meta.contains("inference")) check_inference(meta["inference"]);
  } catch (const std::exception& e) {
    throw Error(path + ": invalid model description: " + e.what());
  }
  if (!meta.contains("network")) return;  // load_model says it is missing; other readers do not need it
  try {
    check_network(meta["network"]);
  } catch (const std::exception& e) {
    throw Error(path + ": invalid model description: " + e.what());
  }
}

}  // namespace

void save_model_file(const std::string& path, const nlohmann::json& metadata, const StateDict& weights) {
  nlohmann::json meta = metadata;
  meta["format"] = "imagefit-model";
  meta["format_version"] = kModelFormatVersion;
  nlohmann::json index = nlohmann::json::array();
  std::string data;
  for (const auto& [name, tensor] : weights) {
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    const size_t nbytes = t.numel() * t.element_size();
    index.push_back({{"name", name}, {"dtype", dtype_name(t.scalar_type())}, {"shape", t.sizes().vec()},
                     {"offset", data.size()}, {"nbytes", nbytes}});
    data.append(static_cast<const char*>(t.data_ptr()), nbytes);
  }
  meta["tensors"] = index;
  const std::string json = meta.dump();
  std::string bytes(kMagic, 8);
  put<uint32_t>(bytes, kModelFormatVersion);
  put<uint32_t>(bytes, 0);
  put<uint64_t>(bytes, json.size());
  bytes += json;
  bytes += data;
  put<uint64_t>(bytes, fnv1a(bytes.data(), bytes.size()));
  bytes.append(kEndMagic, 8);
  atomic_write(path, [&](std::ostream& out) { out.write(bytes.data(), std::streamsize(bytes.size())); });
}

ModelFile parse_model_file(const std::string& bytes, const std::string& path) {
  size_t data_start = 0;
  nlohmann::json meta = parse_header(path, bytes, data_start);
  check_metadata(meta, path);
  ModelFile mf;
  const size_t area = bytes.size() - 16 - data_start;
  std::vector<TensorEntry> index;
  try {
    index = tensor_index(meta, area);
  } catch (const std::exception& e) {
    throw Error(path + ": corrupt model file (" + e.what() + ")");
  }
  if (meta.contains("network")) {
    // The head's output layer must have one row a class name, else predictions name the wrong class.
    const size_t classes = meta["network"]["classes"].size();
    for (const auto& t : index)
      if (t.name == "head.fc.weight" && (t.shape.size() != 2 || size_t(t.shape[0]) != classes))
        throw Error(path + ": invalid model description: " + std::to_string(classes) +
                    " class names are listed but the head's weights have " +
                    (t.shape.empty() ? std::string("no rows") : std::to_string(t.shape[0]) + " outputs"));
  }
  for (const auto& t : index) {
    auto tensor = torch::empty(t.shape, torch::TensorOptions().dtype(t.dtype));
    if (t.nbytes) std::memcpy(tensor.data_ptr(), bytes.data() + data_start + t.offset, t.nbytes);
    mf.weights.emplace_back(t.name, tensor);
  }
  meta.erase("tensors");
  mf.metadata = std::move(meta);
  return mf;
}

ModelFile load_model_file(const std::string& path) { return parse_model_file(read_file(path), path); }

nlohmann::json read_model_metadata(const std::string& path) {
  const std::string bytes = read_file(path);
  size_t data_start = 0;
  nlohmann::json meta = parse_header(path, bytes, data_start);
  check_metadata(meta, path);
  meta.erase("tensors");
  return meta;
}

}  // namespace imagefit

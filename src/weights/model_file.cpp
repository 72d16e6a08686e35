#include "weights/model_file.h"

#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"

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
  throw Error("unknown tensor type " + s);
}

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
    meta = nlohmann::json::parse(bytes.substr(24, json_len));
  } catch (const std::exception& e) {
    throw Error(what + "corrupt model metadata: " + e.what());
  }
  data_start = 24 + json_len;
  return meta;
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

ModelFile load_model_file(const std::string& path) {
  const std::string bytes = read_file(path);
  size_t data_start = 0;
  nlohmann::json meta = parse_header(path, bytes, data_start);
  ModelFile mf;
  const size_t data_end = bytes.size() - 16;
  try {
    for (const auto& entry : meta.at("tensors")) {
      const size_t offset = entry.at("offset").get<size_t>(), nbytes = entry.at("nbytes").get<size_t>();
      if (data_start + offset + nbytes > data_end) throw Error("tensor data out of range");
      auto shape = entry.at("shape").get<std::vector<int64_t>>();
      auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype_from(entry.at("dtype").get<std::string>())));
      if (size_t(t.numel() * t.element_size()) != nbytes) throw Error("tensor size does not match its shape");
      std::memcpy(t.data_ptr(), bytes.data() + data_start + offset, nbytes);
      mf.weights.emplace_back(entry.at("name").get<std::string>(), t);
    }
  } catch (const Error& e) {
    throw Error(path + ": corrupt model file (" + e.what() + ")");
  } catch (const std::exception& e) {
    throw Error(path + ": corrupt model file (" + e.what() + ")");
  }
  meta.erase("tensors");
  mf.metadata = std::move(meta);
  return mf;
}

nlohmann::json read_model_metadata(const std::string& path) {
  const std::string bytes = read_file(path);
  size_t data_start = 0;
  nlohmann::json meta = parse_header(path, bytes, data_start);
  meta.erase("tensors");
  return meta;
}

}  // namespace imagefit

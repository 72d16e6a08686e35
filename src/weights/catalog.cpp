#include "weights/catalog.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <openssl/evp.h>
#include <vector>

#include "core/error.h"
#include "weights/download.h"

namespace imagefit {

namespace {

constexpr const char* kKerasV2Base = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/";
constexpr const char* kKerasV1Base = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/";
constexpr const char* kKerasBase = "https://storage.googleapis.com/tensorflow/keras-applications/";
constexpr const char* kTorchvisionBase = "https://download.pytorch.org/models/";
constexpr std::int64_t kMiB = 1024 * 1024;

// torchvision publishes file sizes in MiB with three decimals (meta "_file_size", torchvision >= 0.15).
std::int64_t from_mib(double mib) { return static_cast<std::int64_t>(mib * kMiB + 0.5); }

// Keras Applications MobileNetV2, 224, no top: keras/applications/mobilenet_v2.py names the file with
// str(alpha) and calls get_file without a file_hash, so no checksum is published.
WeightsEntry keras_v2(const std::string& alpha_text, double alpha, double top1, int preference) {
  WeightsEntry e;
  e.name = "keras-mobilenet-v2-" + alpha_text;
  e.arch = "keras-mobilenet-v2";
  e.alpha = alpha;
  e.file_name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_" + alpha_text + "_224_no_top.h5";
  e.url = std::string(kKerasV2Base) + e.file_name;
  e.sha256_source = "none published (Keras downloads it without a checksum)";
  e.imagenet_top1 = top1;
  e.preference = preference;
  e.description = "Keras MobileNetV2 alpha=" + alpha_text + ", 224x224, no top (Keras Applications)";
  return e;
}

// Keras Applications MobileNet (V1), 224, no top: keras/applications/mobilenet.py writes alpha as
// "2_5", "5_0", "7_5" or "1_0".
WeightsEntry keras_v1(const std::string& alpha_text, const std::string& file_alpha, double alpha, double top1,
                      int preference) {
  WeightsEntry e;
  e.name = "keras-mobilenet-v1-" + alpha_text;
  e.arch = "keras-mobilenet-v1";
  e.alpha = alpha;
  e.file_name = "mobilenet_" + file_alpha + "_224_tf_no_top.h5";
  e.url = std::string(kKerasV1Base) + e.file_name;
  e.sha256_source = "none published (Keras downloads it without a checksum)";
  e.imagenet_top1 = top1;
  e.preference = preference;
  e.description = "Keras MobileNet (V1) alpha=" + alpha_text + ", 224x224, no top (Keras Applications)";
  return e;
}

// A Keras Applications file with the md5 Keras checks it with (its get_file file_hash) and its exact size.
WeightsEntry keras_app(const std::string& name, const std::string& arch, const std::string& folder,
                       const std::string& file_name, const std::string& md5, std::int64_t size, double top1,
                       int preference, const std::string& description) {
  WeightsEntry e;
  e.name = name;
  e.arch = arch;
  e.file_name = file_name;
  e.url = std::string(kKerasBase) + folder + file_name;
  e.md5 = md5;
  e.sha256_source = md5.empty() ? "none published" : "none published; Keras's md5 file_hash " + md5 + " is checked";
  e.size_bytes = size;
  e.size_exact = size > 0;
  e.imagenet_top1 = top1;
  e.preference = preference;
  e.description = description;
  return e;
}

// torchvision 0.14 IMAGENET1K_V1 weights: the file name ends with the first 8 hex digits of its sha256
// (torch.hub checks the same prefix).
WeightsEntry torchvision(const std::string& name, const std::string& file_name, double size_mib, double top1,
                         int preference, const std::string& what) {
  WeightsEntry e;
  e.name = name;
  e.arch = name;
  e.file_name = file_name;
  e.url = std::string(kTorchvisionBase) + file_name;
  const auto dash = file_name.rfind('-');
  const auto dot = file_name.rfind('.');
  e.sha256 = file_name.substr(dash + 1, dot - dash - 1);
  e.sha256_source = "first 8 hex digits, from the torchvision file name";
  e.size_bytes = from_mib(size_mib);
  e.imagenet_top1 = top1;
  e.preference = preference;
  e.description = what + " (torchvision IMAGENET1K_V1)";
  return e;
}

const std::vector<WeightsEntry>& builtin_entries() {
  // preference: ImageNet top-1 weighed against compute (a CPU must still train it in minutes), so
  // EfficientNet-B0 and MobileNetV3-Large come before ResNet-50, and VGG-16 (15 GFLOPs, 528 MiB) is low.
  // Spaced by tens so that a new entry can go between two.
  static const std::vector<WeightsEntry> entries = [] {
    std::vector<WeightsEntry> v;
    // Top-1 for Keras MobileNetV2 from the table in keras/applications/mobilenet_v2.py.
    v.push_back(keras_v2("0.35", 0.35, 60.3, 170));
    v.push_back(keras_v2("0.5", 0.5, 65.4, 150));
    v.push_back(keras_v2("0.75", 0.75, 69.8, 100));
    v.push_back(keras_v2("1.0", 1.0, 71.8, 70));
    v.push_back(keras_v2("1.3", 1.3, 74.4, 40));
    v.push_back(keras_v2("1.4", 1.4, 75.0, 30));
    // Top-1 for MobileNet V1 from the MobileNets paper, Table 6.
    v.push_back(keras_v1("0.25", "2_5", 0.25, 50.6, 190));
    v.push_back(keras_v1("0.5", "5_0", 0.5, 63.7, 160));
    v.push_back(keras_v1("0.75", "7_5", 0.75, 68.4, 130));
    v.push_back(keras_v1("1.0", "1_0", 1.0, 70.6, 90));
    // The alpha=0.25 file is the one ../shared holds (README: the official Keras Applications file),
    // so its full hash and exact size are known.
    v[6].sha256 = "dbdb03ee2a22fd895301636cd328b234bb3a9952358f436d82f46b81e0d5b0bf";
    v[6].sha256_source = "sha256 of the official file (imagefit's reference copy)";
    v[6].size_bytes = 2108140;
    v[6].size_exact = true;
    // Sizes: torchvision's "_file_size" (MiB); top-1: torchvision 0.14 "_metrics".
    v.push_back(torchvision("resnet18", "resnet18-f37072fd.pth", 44.661, 69.758, 110, "ResNet-18"));
    v.push_back(torchvision("resnet34", "resnet34-b627a593.pth", 83.275, 73.314, 80, "ResNet-34"));
    v.push_back(torchvision("resnet50", "resnet50-0676ba61.pth", 97.781, 76.130, 50, "ResNet-50"));
    v.push_back(torchvision("mobilenet_v2", "mobilenet_v2-b0353104.pth", 13.555, 71.878, 60, "MobileNetV2"));
    v.push_back(torchvision("mobilenet_v3_small", "mobilenet_v3_small-047dcff4.pth", 9.829, 67.668, 140,
                            "MobileNetV3-Small"));
    v.push_back(torchvision("mobilenet_v3_large", "mobilenet_v3_large-8738ca79.pth", 21.114, 74.042, 20,
                            "MobileNetV3-Large"));
    v.push_back(torchvision("squeezenet1_1", "squeezenet1_1-b8a52dc0.pth", 4.729, 58.178, 180, "SqueezeNet 1.1"));
    v.push_back(torchvision("vgg16", "vgg16-397923af.pth", 527.796, 71.592, 120, "VGG-16"));
    v.push_back(torchvision("efficientnet_b0", "efficientnet_b0_rwightman-3dd342df.pth", 20.451, 77.692, 10,
                            "EfficientNet-B0"));
    // Keras Applications whose file names and hashes keras/applications/*.py give (get_file's
    // file_hash there is an md5); exact sizes from the Content-Length of the published files as Keras's
    // download progress prints it; top-1 from the keras.io Applications table.
    v.push_back(keras_app("keras-inception-v3", "keras-inception-v3", "inception_v3/",
                          "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          "bcbd6486424b2319ff4ef7d526e38f63", 87910968, 77.9, 55,
                          "Keras InceptionV3, 299x299, no top (Keras Applications)"));
    v.push_back(keras_app("keras-inception-v3-top", "keras-inception-v3", "inception_v3/",
                          "inception_v3_weights_tf_dim_ordering_tf_kernels.h5", "9a0d58056eeedaa3f26cb7ebd46da564",
                          96112376, 77.9, 56,
                          "Keras InceptionV3, 299x299, with the ImageNet top (dropped: imagefit uses the backbone)"));
    // keras/applications/resnet.py WEIGHTS_HASHES["resnet50"] (top, notop); vgg16.py, vgg19.py and
    // xception.py pass file_hash to get_file. Sizes: the Content-Length Keras's download prints
    // ("94765736/94765736"). Preferences by accuracy for the compute: ResNet50 (4 GFLOPs) near
    // torchvision's, Xception (8.4 GFLOPs) after it, the VGGs (15.5 and 19.6 GFLOPs) last.
    v.push_back(keras_app("keras-resnet50", "keras-resnet50", "resnet/",
                          "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", "4d473c1dd8becc155b73f8504c6f6626",
                          94765736, 74.9, 65, "Keras ResNet50, 224x224, no top (Keras Applications)"));
    v.push_back(keras_app("keras-resnet50-top", "keras-resnet50", "resnet/",
                          "resnet50_weights_tf_dim_ordering_tf_kernels.h5", "2cb95161c43110f7111970584f804107",
                          102967424, 74.9, 66,
                          "Keras ResNet50, 224x224, with the ImageNet top (dropped: imagefit uses the backbone)"));
    v.push_back(keras_app("keras-xception", "keras-xception", "xception/",
                          "xception_weights_tf_dim_ordering_tf_kernels_notop.h5", "b0042744bf5b25fce3cb969f33bebb97",
                          83683744, 79.0, 75, "Keras Xception, 299x299, no top (Keras Applications)"));
    v.push_back(keras_app("keras-xception-top", "keras-xception", "xception/",
                          "xception_weights_tf_dim_ordering_tf_kernels.h5", "0a58e3b7378bc2990ea3b43d5981f1f6",
                          91884032, 79.0, 76,
                          "Keras Xception, 299x299, with the ImageNet top (dropped: imagefit uses the backbone)"));
    v.push_back(keras_app("keras-vgg16", "keras-vgg16", "vgg16/", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          "6d6bbae143d832006294945121d1f1fc", 58889256, 71.3, 200,
                          "Keras VGG16 convolutional part, 224x224, no top (Keras Applications)"));
    v.push_back(keras_app("keras-vgg16-top", "keras-vgg16", "vgg16/", "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
                          "64373286793e3c8b2b4e3219cbf3544b", 553467096, 71.3, 201,
                          "Keras VGG16, 224x224, with fc1, fc2 and the ImageNet top (dropped: imagefit uses the "
                          "convolutional part)"));
    v.push_back(keras_app("keras-vgg19", "keras-vgg19", "vgg19/", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          "253f8cb515780f3b799900260a226db6", 80134624, 71.3, 210,
                          "Keras VGG19 convolutional part, 224x224, no top (Keras Applications)"));
    v.push_back(keras_app("keras-vgg19-top", "keras-vgg19", "vgg19/", "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
                          "cbe5617147190e668d6c5d5026f83318", 574710816, 71.3, 211,
                          "Keras VGG19, 224x224, with fc1, fc2 and the ImageNet top (dropped: imagefit uses the "
                          "convolutional part)"));
    return v;
  }();
  return entries;
}

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::vector<WeightsEntry>& registered_entries() {
  static std::vector<WeightsEntry> v;
  return v;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// "" when there is none (a service account): then only the explicitly configured folders count.
std::filesystem::path home_dir_or_empty() {
  std::string home = env("HOME");
  if (home.empty()) {
    if (const passwd* pw = ::getpwuid(::getuid())) home = pw->pw_dir ? pw->pw_dir : "";
  }
  return home;
}

// Other tools' caches users may already have the file in, by the file's layout.
std::vector<std::filesystem::path> foreign_caches(const WeightsEntry& entry) {
  std::vector<std::filesystem::path> dirs;
  const bool keras = entry.arch.rfind("keras-", 0) == 0;
  if (keras) {
    const std::string keras_home = env("KERAS_HOME");
    if (!keras_home.empty()) dirs.push_back(std::filesystem::path(keras_home) / "models");
    if (!home_dir_or_empty().empty()) dirs.push_back(home_dir_or_empty() / ".keras" / "models");
  } else {
    const std::string torch_home = env("TORCH_HOME");
    if (!torch_home.empty()) {
      dirs.push_back(std::filesystem::path(torch_home) / "hub" / "checkpoints");
    } else {
      const std::string xdg = env("XDG_CACHE_HOME");
      if (!xdg.empty())
        dirs.push_back(std::filesystem::path(xdg) / "torch" / "hub" / "checkpoints");
      else if (!home_dir_or_empty().empty())
        dirs.push_back(home_dir_or_empty() / ".cache" / "torch" / "hub" / "checkpoints");
    }
  }
  return dirs;
}

bool usable_copy(const WeightsEntry& entry, const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) return false;
  const auto size = std::filesystem::file_size(p, ec);
  if (ec || size == 0) return false;
  return !(entry.size_exact && entry.size_bytes > 0 && static_cast<std::int64_t>(size) != entry.size_bytes);
}

// Lower-case hex md5 of a file (Keras's file_hash for its application weights).
std::string md5_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path.string() + " to compute its md5");
  const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1) throw Error("OpenSSL: cannot start an md5");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0 && EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount())) != 1)
      throw Error("OpenSSL: md5 update failed");
  }
  if (in.bad()) throw Error("read error in " + path.string() + " while computing its md5");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) throw Error("OpenSSL: md5 final failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += {hex[md[i] >> 4], hex[md[i] & 15]};
  return out;
}

}  // namespace

std::vector<WeightsEntry> weights_catalog() {
  std::vector<WeightsEntry> all = builtin_entries();
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (const auto& r : registered_entries()) {
    auto it = std::find_if(all.begin(), all.end(), [&](const WeightsEntry& e) { return e.name == r.name; });
    if (it != all.end())
      *it = r;
    else
      all.push_back(r);
  }
  return all;
}

WeightsEntry find_weights_entry(const std::string& name) {
  const auto all = weights_catalog();
  for (const auto& e : all)
    if (e.name == name) return e;
  std::string known;
  for (const auto& e : all) known += (known.empty() ? "" : ", ") + e.name;
  throw Error("unknown pretrained weights '" + name + "' (known: " + known + "; see 'imagefit weights list')");
}

void register_weights_entry(const WeightsEntry& entry) {
  if (entry.name.empty() || entry.file_name.empty())
    throw Error("a weights entry needs a name and a file name");
  if (entry.file_name.find('/') != std::string::npos || entry.file_name == "." || entry.file_name == "..")
    throw Error("weights file name '" + entry.file_name + "' must be a plain file name");
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto& v = registered_entries();
  auto it = std::find_if(v.begin(), v.end(), [&](const WeightsEntry& e) { return e.name == entry.name; });
  if (it != v.end())
    *it = entry;
  else
    v.push_back(entry);
}

std::filesystem::path weights_cache_dir() {
  const std::string explicit_dir = env("IMAGEFIT_CACHE");
  if (!explicit_dir.empty()) return explicit_dir;
  const std::string xdg = env("XDG_CACHE_HOME");
  if (!xdg.empty()) return std::filesystem::path(xdg) / "imagefit" / "weights";
  const auto home = home_dir_or_empty();
  if (home.empty()) throw Error("cannot find a folder for downloaded weights ($HOME is not set): set IMAGEFIT_CACHE");
  return home / ".cache" / "imagefit" / "weights";
}

std::optional<std::filesystem::path> find_cached(const WeightsEntry& entry) {
  std::vector<std::filesystem::path> dirs = {weights_cache_dir()};
  for (auto& d : foreign_caches(entry)) dirs.push_back(std::move(d));
  for (const auto& d : dirs) {
    const auto p = d / entry.file_name;
    if (usable_copy(entry, p)) return p;
  }
  return std::nullopt;
}

std::optional<std::filesystem::path> find_cached(const std::string& name) {
  return find_cached(find_weights_entry(name));
}

bool verify_cached_weights(const WeightsEntry& entry, const std::filesystem::path& path, std::string* actual_sha256) {
  const std::string actual = sha256_file(path);
  if (actual_sha256) *actual_sha256 = actual;
  if (!entry.md5.empty() && md5_file(path) != entry.md5) return false;
  return entry.sha256.empty() || sha256_matches(actual, entry.sha256);
}

std::optional<CachedWeights> best_cached_backbone() {
  auto all = weights_catalog();
  std::stable_sort(all.begin(), all.end(),
                   [](const WeightsEntry& a, const WeightsEntry& b) { return a.preference < b.preference; });
  for (const auto& e : all) {
    if (auto p = find_cached(e)) return CachedWeights{e, *p, false};
  }
  return embedded_backbone();
}

std::vector<std::filesystem::path> data_dirs() {
  const std::string explicit_dir = env("IMAGEFIT_DATA_DIR");
  if (!explicit_dir.empty()) return {explicit_dir};
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const auto bin = exe.parent_path();
  return {bin.parent_path() / "share" / "imagefit", bin / "share" / "imagefit"};
}

std::optional<CachedWeights> embedded_backbone() {
  const WeightsEntry entry = find_weights_entry("keras-mobilenet-v1-0.25");
  for (const auto& d : data_dirs()) {
    const auto p = d / entry.file_name;
    if (usable_copy(entry, p)) return CachedWeights{entry, p, true};
  }
  return std::nullopt;
}

bool sha256_matches(const std::string& actual, const std::string& expected) {
  if (expected.empty() || expected.size() > actual.size()) return false;
  for (size_t i = 0; i < expected.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(actual[i])) != std::tolower(static_cast<unsigned char>(expected[i])))
      return false;
  return true;
}

std::string format_bytes(std::int64_t bytes) {
  char buf[32];
  if (bytes >= 1024 * kMiB)
    std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / (1024.0 * kMiB));
  else if (bytes >= kMiB)
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / kMiB);
  else if (bytes >= 1024)
    std::snprintf(buf, sizeof buf, "%.0f KiB", double(bytes) / 1024);
  else
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  return buf;
}

}  // namespace imagefit

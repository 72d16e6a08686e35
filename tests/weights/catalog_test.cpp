// The pretrained weights catalog: entries consistent with the architecture registry and with how
// Keras / torchvision name their files; the cache folder; find_cached and best_cached_backbone.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "core/error.h"
#include "core/fs.h"
#include "local_server.h"
#include "models/registry.h"
#include "test_support.h"
#include "weights/catalog.h"
#include "weights/download.h"

namespace imagefit {
namespace {

using test::ScopedEnv;

const WeightsEntry* find_in(const std::vector<WeightsEntry>& all, const std::string& name) {
  for (const auto& e : all)
    if (e.name == name) return &e;
  return nullptr;
}

TEST(WeightsCatalogTest, EntriesAreConsistent) {
  const auto all = weights_catalog();
  std::set<std::string> names, files, preferences;
  std::set<std::string> archs;
  for (const auto& a : architectures()) archs.insert(a.name);
  for (const auto& e : all) {
    if (e.name.rfind("test-", 0) == 0) continue;  // registered by other tests in this program
    SCOPED_TRACE(e.name);
    EXPECT_TRUE(names.insert(e.name).second) << "duplicate name";
    EXPECT_TRUE(files.insert(e.file_name).second) << "duplicate file";
    EXPECT_TRUE(preferences.insert(std::to_string(e.preference)).second) << "duplicate preference";
    EXPECT_TRUE(archs.count(e.arch)) << "architecture " << e.arch << " is not in the registry";
    EXPECT_EQ(e.url.rfind("https://", 0), 0u);
    EXPECT_EQ(e.url.substr(e.url.size() - e.file_name.size()), e.file_name);
    EXPECT_GT(e.imagenet_top1, 40);
    EXPECT_FALSE(e.description.empty());
    EXPECT_FALSE(e.sha256_source.empty());
    EXPECT_TRUE(std::regex_match(e.sha256, std::regex("[0-9a-f]*")));
    if (e.arch.rfind("keras-", 0) == 0) {
      EXPECT_EQ(e.url.rfind("https://storage.googleapis.com/tensorflow/keras-applications/", 0), 0u);
      EXPECT_EQ(fs::path(e.file_name).extension(), ".h5");
    } else {
      // torchvision: name-<first 8 hex digits of the sha256>.pth
      EXPECT_EQ(e.url, "https://download.pytorch.org/models/" + e.file_name);
      std::smatch m;
      ASSERT_TRUE(std::regex_match(e.file_name, m, std::regex(".*-([0-9a-f]{8})\\.pth")));
      EXPECT_EQ(e.sha256, m[1].str());
      EXPECT_GT(e.size_bytes, 1024 * 1024);
    }
  }
  // What the brief lists, at least.
  for (const char* alpha : {"0.35", "0.5", "0.75", "1.0", "1.3", "1.4"}) {
    const auto* e = find_in(all, std::string("keras-mobilenet-v2-") + alpha);
    ASSERT_NE(e, nullptr) << alpha;
    EXPECT_EQ(e->file_name, std::string("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_") + alpha + "_224_no_top.h5");
    EXPECT_DOUBLE_EQ(e->alpha, std::stod(alpha));
  }
  for (const auto& [alpha, text] : std::vector<std::pair<std::string, std::string>>{
           {"0.25", "2_5"}, {"0.5", "5_0"}, {"0.75", "7_5"}, {"1.0", "1_0"}}) {
    const auto* e = find_in(all, "keras-mobilenet-v1-" + alpha);
    ASSERT_NE(e, nullptr) << alpha;
    EXPECT_EQ(e->file_name, "mobilenet_" + text + "_224_tf_no_top.h5");
  }
  for (const char* name : {"resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_small",
                           "mobilenet_v3_large", "squeezenet1_1", "vgg16", "efficientnet_b0"})
    EXPECT_NE(find_in(all, name), nullptr) << name;
  EXPECT_EQ(find_in(all, "resnet18")->url, "https://download.pytorch.org/models/resnet18-f37072fd.pth");

  const std::string msg = [] {
    try {
      find_weights_entry("resnet19");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  EXPECT_NE(msg.find("resnet18"), std::string::npos) << msg;
}

TEST(WeightsCatalogTest, CacheFolderFollowsTheEnvironment) {
  {
    ScopedEnv env({{"IMAGEFIT_CACHE", "/tmp/x-cache"}, {"XDG_CACHE_HOME", "/tmp/xdg"}, {"HOME", "/tmp/home"}});
    EXPECT_EQ(weights_cache_dir(), fs::path("/tmp/x-cache"));
  }
  {
    ScopedEnv env({{"IMAGEFIT_CACHE", std::nullopt}, {"XDG_CACHE_HOME", "/tmp/xdg"}, {"HOME", "/tmp/home"}});
    EXPECT_EQ(weights_cache_dir(), fs::path("/tmp/xdg/imagefit/weights"));
  }
  {
    ScopedEnv env({{"IMAGEFIT_CACHE", std::nullopt}, {"XDG_CACHE_HOME", std::nullopt}, {"HOME", "/tmp/home"}});
    EXPECT_EQ(weights_cache_dir(), fs::path("/tmp/home/.cache/imagefit/weights"));
  }
}

class CachedWeightsTest : public ::testing::Test {
 protected:
  void put(const fs::path& dir, const std::string& file, const std::string& content = "weights") {
    fs::create_directories(dir);
    atomic_write_text(dir / file, content);
  }
  TempDir dir_{"imagefit-catalog-test"};
  fs::path cache_ = dir_.path() / "cache";
  ScopedEnv env_{{"IMAGEFIT_CACHE", cache_.string()},
                 {"HOME", (dir_.path() / "home").string()},
                 {"XDG_CACHE_HOME", std::nullopt},
                 {"TORCH_HOME", (dir_.path() / "torch").string()},
                 {"KERAS_HOME", (dir_.path() / "keras").string()},
                 {"IMAGEFIT_DATA_DIR", (dir_.path() / "share").string()}};
};

// The embedded backbone counts only when nothing better is cached; the build tree has one beside
// the test binaries' parent (build/share/imagefit), found by the binary's own location.
TEST_F(CachedWeightsTest, EmbeddedBackboneIsTheLastResort) {
  EXPECT_FALSE(best_cached_backbone());  // IMAGEFIT_DATA_DIR names an empty folder
  const WeightsEntry v1 = find_weights_entry("keras-mobilenet-v1-0.25");
  fs::create_directories(dir_.path() / "share");
  fs::copy_file(test::source_dir() / "share" / v1.file_name, dir_.path() / "share" / v1.file_name);
  auto found = best_cached_backbone();
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->embedded);
  EXPECT_EQ(found->entry.name, "keras-mobilenet-v1-0.25");
  EXPECT_EQ(found->path, dir_.path() / "share" / v1.file_name);
  put(cache_, "resnet18-f37072fd.pth");
  ASSERT_TRUE(best_cached_backbone());
  EXPECT_FALSE(best_cached_backbone()->embedded);
  EXPECT_EQ(best_cached_backbone()->entry.name, "resnet18");
  {
    ScopedEnv unset{{"IMAGEFIT_DATA_DIR", std::nullopt}};
    const auto dirs = data_dirs();
    ASSERT_FALSE(dirs.empty());
    bool in_build_tree = false;
    for (const auto& d : dirs) in_build_tree |= fs::exists(d / v1.file_name);
    EXPECT_TRUE(in_build_tree) << "the build does not put the embedded backbone where the binary looks";
  }
}

TEST_F(CachedWeightsTest, FindsFilesByPreference) {
  EXPECT_FALSE(best_cached_backbone());
  EXPECT_FALSE(find_cached("resnet18"));

  put(cache_, "squeezenet1_1-b8a52dc0.pth");
  ASSERT_TRUE(best_cached_backbone());
  EXPECT_EQ(best_cached_backbone()->entry.name, "squeezenet1_1");
  EXPECT_EQ(best_cached_backbone()->path, cache_ / "squeezenet1_1-b8a52dc0.pth");

  put(cache_, "resnet18-f37072fd.pth");
  EXPECT_EQ(best_cached_backbone()->entry.name, "resnet18");
  EXPECT_EQ(*find_cached("resnet18"), cache_ / "resnet18-f37072fd.pth");

  // Files users already have in torch.hub's and Keras's caches count too.
  put(dir_.path() / "torch" / "hub" / "checkpoints", "efficientnet_b0_rwightman-3dd342df.pth");
  EXPECT_EQ(best_cached_backbone()->entry.name, "efficientnet_b0");
  put(dir_.path() / "keras" / "models", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5");
  EXPECT_EQ(*find_cached("keras-mobilenet-v2-1.0"),
            dir_.path() / "keras" / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5");

  // Empty files do not count.
  put(cache_, "vgg16-397923af.pth", "");
  EXPECT_FALSE(find_cached("vgg16"));
}

TEST_F(CachedWeightsTest, ExactSizeAndHashOfTheRealKerasFile) {
  IMAGEFIT_REQUIRE_SHARED("weights/keras/mobilenet_2_5_224_tf_no_top.h5");
  const WeightsEntry entry = find_weights_entry("keras-mobilenet-v1-0.25");
  ASSERT_TRUE(entry.size_exact);
  // A file of the wrong size under that name is not taken for it.
  put(cache_, entry.file_name, "not the weights");
  EXPECT_FALSE(find_cached(entry));
  fs::copy_file(test::shared_dir() / "weights/keras/mobilenet_2_5_224_tf_no_top.h5", cache_ / entry.file_name,
                fs::copy_options::overwrite_existing);
  ASSERT_TRUE(find_cached(entry));
  std::string actual;
  EXPECT_TRUE(verify_cached_weights(entry, *find_cached(entry), &actual));
  EXPECT_EQ(actual, entry.sha256);
  // Same size, one byte changed: the hash catches it.
  std::string data = read_file(cache_ / entry.file_name);
  data[data.size() / 2] ^= 1;
  atomic_write_text(cache_ / entry.file_name, data);
  EXPECT_FALSE(verify_cached_weights(entry, cache_ / entry.file_name));
}

// Keras publishes an md5 (get_file's file_hash) for the InceptionV3 files; keras/applications/inception_v3.py.
TEST(WeightsCatalogTest, KerasApplicationsEntries) {
  const WeightsEntry notop = find_weights_entry("keras-inception-v3");
  EXPECT_EQ(notop.arch, "keras-inception-v3");
  EXPECT_EQ(notop.url,
            "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
            "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5");
  EXPECT_EQ(notop.md5, "bcbd6486424b2319ff4ef7d526e38f63");
  EXPECT_EQ(notop.size_bytes, 87910968);
  EXPECT_TRUE(notop.size_exact);
  const WeightsEntry top = find_weights_entry("keras-inception-v3-top");
  EXPECT_EQ(top.file_name, "inception_v3_weights_tf_dim_ordering_tf_kernels.h5");
  EXPECT_EQ(top.md5, "9a0d58056eeedaa3f26cb7ebd46da564");
  for (const auto& e : weights_catalog())
    if (!e.md5.empty()) EXPECT_TRUE(std::regex_match(e.md5, std::regex("[0-9a-f]{32}"))) << e.name;
}

// keras/applications/resnet.py WEIGHTS_HASHES, vgg16.py, vgg19.py, xception.py: the file_hash values
// and the sizes Keras's download prints.
TEST(WeightsCatalogTest, KerasResNetVggXceptionEntries) {
  struct Expected {
    const char *name, *arch, *folder, *file, *md5;
    std::int64_t size;
  };
  const Expected expected[] = {
      {"keras-resnet50", "keras-resnet50", "resnet/", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
       "4d473c1dd8becc155b73f8504c6f6626", 94765736},
      {"keras-resnet50-top", "keras-resnet50", "resnet/", "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
       "2cb95161c43110f7111970584f804107", 102967424},
      {"keras-vgg16", "keras-vgg16", "vgg16/", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
       "6d6bbae143d832006294945121d1f1fc", 58889256},
      {"keras-vgg16-top", "keras-vgg16", "vgg16/", "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
       "64373286793e3c8b2b4e3219cbf3544b", 553467096},
      {"keras-vgg19", "keras-vgg19", "vgg19/", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
       "253f8cb515780f3b799900260a226db6", 80134624},
      {"keras-vgg19-top", "keras-vgg19", "vgg19/", "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
       "cbe5617147190e668d6c5d5026f83318", 574710816},
      {"keras-xception", "keras-xception", "xception/", "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
       "b0042744bf5b25fce3cb969f33bebb97", 83683744},
      {"keras-xception-top", "keras-xception", "xception/", "xception_weights_tf_dim_ordering_tf_kernels.h5",
       "0a58e3b7378bc2990ea3b43d5981f1f6", 91884032},
  };
  for (const auto& x : expected) {
    SCOPED_TRACE(x.name);
    const WeightsEntry e = find_weights_entry(x.name);
    EXPECT_EQ(e.arch, x.arch);
    EXPECT_EQ(e.file_name, x.file);
    EXPECT_EQ(e.url, std::string("https://storage.googleapis.com/tensorflow/keras-applications/") + x.folder + x.file);
    EXPECT_EQ(e.md5, x.md5);
    EXPECT_EQ(e.size_bytes, x.size);
    EXPECT_TRUE(e.size_exact);
  }
}

TEST_F(CachedWeightsTest, Md5OfKerasFilesIsChecked) {
  WeightsEntry entry;
  entry.name = "test-md5";
  entry.file_name = "test-md5.h5";
  entry.md5 = "0cc175b9c0f1b6a831c399e269772661";  // md5("a")
  put(cache_, entry.file_name, "a");
  EXPECT_TRUE(verify_cached_weights(entry, cache_ / entry.file_name));
  put(cache_, entry.file_name, "b");
  EXPECT_FALSE(verify_cached_weights(entry, cache_ / entry.file_name));
}

TEST(WeightsCatalogTest, FormatsSizes) {
  EXPECT_EQ(format_bytes(95), "95 B");
  EXPECT_EQ(format_bytes(812 * 1024), "812 KiB");
  EXPECT_EQ(format_bytes(46830571), "44.7 MiB");
  EXPECT_EQ(format_bytes(3LL * 1024 * 1024 * 1024), "3.00 GiB");
}

}  // namespace
}  // namespace imagefit

// `imagefit weights list | fetch | path` end to end: the built binary against a loopback HTTP(S) server
// (it lives with the weights tests because it needs httplib for the server).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/fs.h"
#include "local_server.h"
#include "test_support.h"
#include "weights/catalog.h"
#include "weights/download.h"

namespace imagefit {
namespace {

using test::imagefit_binary;
using test::LocalServer;
using test::run_command;

std::string sha256_hex(const std::string& s) {
  Sha256 h;
  h.update(s.data(), s.size());
  return h.hex_digest();
}

class WeightsCliTest : public ::testing::Test {
 protected:
  // The sanitizer build (cmake/sanitize.cmake) does not build the binary.
  void SetUp() override {
    if (!fs::exists(imagefit_binary()))
      GTEST_SKIP() << "skipped: the imagefit binary " << imagefit_binary() << " is not built in this tree";
  }
  // The command line with an environment that keeps the user's real caches out of the test.
  std::string imagefit(const std::string& args, const std::string& extra_env = "") const {
    return "env -u IMAGEFIT_WEIGHTS_URL_BASE -u XDG_CACHE_HOME IMAGEFIT_CACHE=" + cache_.string() +
           " HOME=" + (dir_.path() / "home").string() + " TORCH_HOME=" + (dir_.path() / "torch").string() +
           " KERAS_HOME=" + (dir_.path() / "keras").string() + " " + extra_env + " " + imagefit_binary().string() +
           " weights " + args;
  }
  nlohmann::json list_json() const {
    const auto r = run_command(imagefit("list --json"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const auto start = r.output.find('[');
    if (start == std::string::npos) return nlohmann::json::array();
    return nlohmann::json::parse(r.output.substr(start));
  }
  static const nlohmann::json& item(const nlohmann::json& list, const std::string& name) {
    for (const auto& e : list)
      if (e["name"] == name) return e;
    static const nlohmann::json none;
    ADD_FAILURE() << name << " is not in the list";
    return none;
  }

  TempDir dir_{"imagefit-weights-cli"};
  fs::path cache_ = dir_.path() / "cache";
  // A stand-in for a Keras MobileNetV2 file: HDF5 signature, then bytes (Keras publishes no hash).
  std::string h5_ = std::string("\x89HDF\r\n\x1a\n", 8) + test::random_bytes(200 * 1024, 7);
};

TEST_F(WeightsCliTest, ListShowsCachedStatus) {
  auto list = list_json();
  ASSERT_GE(list.size(), 19u);
  for (const auto& e : list) EXPECT_FALSE(e["cached"].get<bool>()) << e["name"];
  EXPECT_EQ(item(list, "resnet18")["url"], "https://download.pytorch.org/models/resnet18-f37072fd.pth");

  fs::create_directories(cache_);
  atomic_write_text(cache_ / "resnet18-f37072fd.pth", "stand-in");
  list = list_json();
  EXPECT_TRUE(item(list, "resnet18")["cached"].get<bool>());
  EXPECT_EQ(item(list, "resnet18")["path"], (cache_ / "resnet18-f37072fd.pth").string());
  EXPECT_FALSE(item(list, "resnet34")["cached"].get<bool>());

  const auto text = run_command(imagefit("list"));
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("yes  " + (cache_ / "resnet18-f37072fd.pth").string()), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("default backbone for 'imagefit train': resnet18"), std::string::npos) << text.output;
}

TEST_F(WeightsCliTest, FetchPathAndErrors) {
  auto svr = std::make_unique<httplib::Server>();
  svr->Get("/mirror/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5",
           [this](const httplib::Request&, httplib::Response& res) {
             res.set_content(h5_, "application/octet-stream");
           });
  svr->Get("/mirror/resnet18-f37072fd.pth", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string("PK\x03\x04", 4) + "not the published resnet18", "application/octet-stream");
  });
  LocalServer server(std::move(svr));
  const std::string name = "keras-mobilenet-v2-0.35";
  const fs::path expected = cache_ / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5";

  // Not downloaded yet: `path` says how to get it.
  auto r = run_command(imagefit("path " + name));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("imagefit weights fetch " + name), std::string::npos) << r.output;

  // Fetch through $IMAGEFIT_WEIGHTS_URL_BASE: prints the path, no checksum to compare with (Keras).
  r = run_command(imagefit("fetch " + name, "IMAGEFIT_WEIGHTS_URL_BASE=" + server.url("/mirror")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(expected.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(sha256_hex(h5_)), std::string::npos) << "the computed sha256 is shown: " << r.output;
  EXPECT_EQ(read_file(expected), h5_);

  r = run_command(imagefit("path " + name));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, expected.string() + "\n");
  EXPECT_TRUE(item(list_json(), name)["cached"].get<bool>());

  // A file that is not the published one (hash prefix in torchvision's name): refused, nothing saved.
  r = run_command(imagefit("fetch resnet18 --url " + server.url("/mirror/")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("sha256 mismatch: expected f37072fd"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(cache_ / "resnet18-f37072fd.pth"));

  // 404 names the URL; an unreachable host says the machine seems offline.
  r = run_command(imagefit("fetch vgg16 --url " + server.url("/mirror/")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find(server.url("/mirror/vgg16-397923af.pth")), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("404"), std::string::npos) << r.output;
  r = run_command(imagefit("fetch squeezenet1_1 --url http://127.0.0.1:" + std::to_string(test::closed_port()) + "/"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("offline"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find((cache_ / "squeezenet1_1-b8a52dc0.pth").string()), std::string::npos) << r.output;

  // Unknown names list the known ones.
  r = run_command(imagefit("fetch resnet19"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("resnet18"), std::string::npos) << r.output;
}

// The real Keras MobileNet V1 0.25 file (its full sha256 and size are in the catalog), over HTTPS with a
// self-signed certificate the command is told to trust.
TEST_F(WeightsCliTest, FetchesTheRealKerasFileOverHttps) {
  IMAGEFIT_REQUIRE_SHARED("weights/keras/mobilenet_2_5_224_tf_no_top.h5");
  const std::string real = read_file(test::shared_dir() / "weights/keras/mobilenet_2_5_224_tf_no_top.h5");
  const auto cert = test::make_self_signed_cert(dir_.path());
  auto svr = std::make_unique<httplib::SSLServer>(cert.cert_file.c_str(), cert.key_file.c_str());
  svr->Get("/keras/mobilenet_2_5_224_tf_no_top.h5", [&real](const httplib::Request&, httplib::Response& res) {
    res.set_content(real, "application/octet-stream");
  });
  LocalServer server(std::move(svr), /*https=*/true);

  // Without trusting the certificate: refused.
  auto r = run_command(imagefit("fetch keras-mobilenet-v1-0.25 --url " + server.url("/keras/")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("secure connection"), std::string::npos) << r.output;

  r = run_command(imagefit("fetch keras-mobilenet-v1-0.25 --url " + server.url("/keras/") + " --ca-cert " +
                           cert.cert_file.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("sha256 ok"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(cache_ / "mobilenet_2_5_224_tf_no_top.h5"), real);

  // Fetching again finds it present.
  r = run_command(imagefit("fetch keras-mobilenet-v1-0.25 --url " + server.url("/keras/")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("already present (sha256 checked)"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace imagefit

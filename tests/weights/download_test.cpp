// Downloads against a loopback HTTP(S) server: atomic landing, hash checks, redirects, HTTP errors,
// truncated and stalled transfers, unreachable hosts, proxies, TLS verification, and fetch_weights with the
// cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "local_server.h"
#include "weights/catalog.h"
#include "weights/download.h"

namespace imagefit {
namespace {

using test::LocalServer;
using test::random_bytes;
using test::ScopedEnv;

std::string hash_of(const std::string& s) {
  Sha256 h;
  h.update(s.data(), s.size());
  return h.hex_digest();
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

// The message of the Error `f` throws ("" if it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Routes every test uses, over a 300 KB payload.
struct Files {
  std::string good = random_bytes(300 * 1024 + 17, 1);
  std::string other = random_bytes(300 * 1024 + 17, 2);
  std::string h5 = std::string("\x89HDF\r\n\x1a\n", 8) + random_bytes(5000, 3);
  std::atomic<int> good_hits{0};
  std::atomic<int> loop_hits{0};
  std::atomic<bool> release_stalled{false};  // lets /stalled.bin's handler return (the server can then stop)
};

void add_routes(httplib::Server& svr, Files& files) {
  svr.Get("/files/good.bin", [&files](const httplib::Request&, httplib::Response& res) {
    ++files.good_hits;
    res.set_content(files.good, "application/octet-stream");
  });
  svr.Get("/files/other.bin", [&files](const httplib::Request&, httplib::Response& res) {
    res.set_content(files.other, "application/octet-stream");
  });
  svr.Get("/files/model.h5", [&files](const httplib::Request&, httplib::Response& res) {
    res.set_content(files.h5, "application/octet-stream");
  });
  svr.Get("/files/page.h5", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<html><body>Please log in to the hotel wifi</body></html>", "text/html");
  });
  svr.Get("/redirect-relative", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("files/good.bin", 302);
  });
  svr.Get("/redirect-absolute", [](const httplib::Request& req, httplib::Response& res) {
    res.set_redirect("http://" + req.get_header_value("Host") + "/redirect-relative", 301);
  });
  svr.Get("/redirect-loop", [&files](const httplib::Request&, httplib::Response& res) {
    ++files.loop_hits;
    res.set_redirect("/redirect-loop");
  });
  // /chain/N redirects to /chain/N-1 ..., /chain/0 to the file.
  svr.Get(R"(/chain/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
    const int n = std::stoi(req.matches[1]);
    res.set_redirect(n == 0 ? "/files/good.bin" : "/chain/" + std::to_string(n - 1), 302);
  });
  // Sends the headers (a full Content-Length), then nothing.
  svr.Get("/stalled.bin", [&files](const httplib::Request&, httplib::Response& res) {
    res.set_content_provider(files.good.size(), "application/octet-stream",
                             [&files](std::size_t, std::size_t, httplib::DataSink&) {
                               for (int i = 0; i < 3000 && !files.release_stalled; ++i)
                                 std::this_thread::sleep_for(std::chrono::milliseconds(10));
                               return false;
                             });
  });
  svr.Get("/server-error", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content("busy", "text/plain");
  });
  // Announces the whole file, sends half, then drops the connection.
  svr.Get("/truncated.bin", [&files](const httplib::Request&, httplib::Response& res) {
    const std::size_t half = files.good.size() / 2;
    res.set_content_provider(files.good.size(), "application/octet-stream",
                             [&files, half](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                               if (offset >= half) return false;
                               sink.write(files.good.data() + offset, std::min(length, half - offset));
                               return true;
                             });
  });
  // No Content-Length: chunked transfer encoding.
  svr.Get("/chunked.bin", [&files](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/octet-stream",
                                     [&files](std::size_t offset, httplib::DataSink& sink) {
                                       if (offset >= files.good.size()) {
                                         sink.done();
                                         return true;
                                       }
                                       sink.write(files.good.data() + offset,
                                                  std::min<std::size_t>(64 * 1024, files.good.size() - offset));
                                       return true;
                                     });
  });
}

class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    add_routes(*plain_, files_);
    server_ = std::make_unique<LocalServer>(std::move(plain_));
  }
  DownloadRequest request(const std::string& path, const std::string& file_name = "good.bin") {
    DownloadRequest r;
    r.url = server_->url(path);
    r.destination = dir_.path() / "cache" / file_name;
    r.show_progress = false;
    return r;
  }
  fs::path cache() const { return dir_.path() / "cache"; }
  void TearDown() override { files_.release_stalled = true; }

  // libcurl would send even 127.0.0.1 through a proxy set in the developer's environment.
  ScopedEnv no_proxy_ = test::without_proxies();
  Files files_;
  std::unique_ptr<httplib::Server> plain_ = std::make_unique<httplib::Server>();
  std::unique_ptr<LocalServer> server_;
  TempDir dir_{"imagefit-download-test"};
};

TEST(Sha256Test, KnownVectorsAndFiles) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(hash_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hash_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Streaming in pieces gives the same hash as one update; sha256_file agrees.
  const std::string data = random_bytes(3 * 1024 * 1024 + 5, 9);
  Sha256 pieces;
  for (std::size_t i = 0; i < data.size(); i += 1000)
    pieces.update(data.data() + i, std::min<std::size_t>(1000, data.size() - i));
  const std::string whole = hash_of(data);
  EXPECT_EQ(pieces.hex_digest(), whole);
  TempDir dir;
  atomic_write_text(dir.path() / "f", data);
  EXPECT_EQ(sha256_file(dir.path() / "f"), whole);
  EXPECT_TRUE(sha256_matches(whole, whole.substr(0, 8)));
  EXPECT_TRUE(sha256_matches(whole, [&] {
    std::string up = whole.substr(0, 12);
    for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return up;
  }()));
  EXPECT_FALSE(sha256_matches(whole, hash_of("abc").substr(0, 8)));
  EXPECT_FALSE(sha256_matches(whole, ""));
}

TEST_F(DownloadTest, LandsAtomicallyWithTheRightHash) {
  auto r = request("/files/good.bin");
  r.expected_sha256 = hash_of(files_.good);
  const DownloadResult got = download_file(r);
  EXPECT_EQ(got.path, cache() / "good.bin");
  EXPECT_EQ(read_file(got.path), files_.good);
  EXPECT_EQ(got.sha256, hash_of(files_.good));
  EXPECT_EQ(got.bytes, static_cast<std::int64_t>(files_.good.size()));
  EXPECT_EQ(files_in(cache()), std::vector<std::string>{"good.bin"});  // no temporary file left
}

TEST_F(DownloadTest, AcceptsAHashPrefixAndAnExactSize) {
  auto r = request("/files/good.bin");
  r.expected_sha256 = hash_of(files_.good).substr(0, 8);
  r.expected_size = static_cast<std::int64_t>(files_.good.size());
  EXPECT_EQ(read_file(download_file(r).path), files_.good);
}

TEST_F(DownloadTest, WrongHashLeavesNothingAndKeepsThePreviousFile) {
  auto r = request("/files/other.bin");
  const std::string expected = hash_of(files_.good);
  r.expected_sha256 = expected;
  std::string msg = error_of([&] { download_file(r); });
  EXPECT_NE(msg.find("sha256 mismatch"), std::string::npos) << msg;
  EXPECT_NE(msg.find(expected), std::string::npos) << msg;
  EXPECT_NE(msg.find(hash_of(files_.other)), std::string::npos) << msg;
  EXPECT_TRUE(files_in(cache()).empty());

  // A good file already in place survives a failed download over it.
  fs::create_directories(cache());
  atomic_write_text(cache() / "good.bin", files_.good);
  EXPECT_FALSE(error_of([&] { download_file(r); }).empty());
  EXPECT_EQ(read_file(cache() / "good.bin"), files_.good);
  EXPECT_EQ(files_in(cache()), std::vector<std::string>{"good.bin"});
}

TEST_F(DownloadTest, NotFoundNamesTheUrl) {
  auto r = request("/files/missing.bin");
  const std::string msg = error_of([&] { download_file(r); });
  EXPECT_NE(msg.find("404"), std::string::npos) << msg;
  EXPECT_NE(msg.find(server_->url("/files/missing.bin")), std::string::npos) << msg;
  EXPECT_TRUE(files_in(cache()).empty());
}

TEST_F(DownloadTest, ServerErrorIsReported) {
  const std::string msg = error_of([&] { download_file(request("/server-error")); });
  EXPECT_NE(msg.find("503"), std::string::npos) << msg;
  EXPECT_TRUE(files_in(cache()).empty());
}

TEST_F(DownloadTest, FollowsRelativeAndAbsoluteRedirects) {
  auto r = request("/redirect-absolute");
  r.expected_sha256 = hash_of(files_.good);
  const DownloadResult got = download_file(r);
  EXPECT_EQ(read_file(got.path), files_.good);
  EXPECT_EQ(got.final_url, server_->url("/files/good.bin"));
  EXPECT_EQ(files_.good_hits.load(), 1);
  EXPECT_EQ(files_in(cache()), std::vector<std::string>{"good.bin"});
}

TEST_F(DownloadTest, FollowsARedirectChainUpToTheLimit) {
  auto r = request("/chain/4");  // 5 redirects
  r.expected_sha256 = hash_of(files_.good);
  EXPECT_EQ(download_file(r).final_url, server_->url("/files/good.bin"));
  fs::remove(cache() / "good.bin");
  r.max_redirects = 4;
  const std::string msg = error_of([&] { download_file(r); });
  EXPECT_NE(msg.find("more than 4 redirects"), std::string::npos) << msg;
  EXPECT_NE(msg.find(r.url), std::string::npos) << msg;
  EXPECT_TRUE(files_in(cache()).empty());
}

TEST_F(DownloadTest, RedirectLoopStops) {
  auto r = request("/redirect-loop");
  r.max_redirects = 3;
  const std::string msg = error_of([&] { download_file(r); });
  EXPECT_NE(msg.find("more than 3 redirects"), std::string::npos) << msg;
  EXPECT_NE(msg.find(r.url), std::string::npos) << msg;
  EXPECT_EQ(files_.loop_hits.load(), 4);  // the request and 3 redirects followed, then no more
  EXPECT_TRUE(files_in(cache()).empty());
}

TEST_F(DownloadTest, StalledServerFailsAfterTheStallTimeout) {
  auto r = request("/stalled.bin");
  r.stall_timeout_s = 1;
  const auto start = std::chrono::steady_clock::now();
  const std::string msg = error_of([&] { download_file(r); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(msg.find("stalled: no data for 1 s"), std::string::npos) << msg;
  EXPECT_NE(msg.find(r.url), std::string::npos) << msg;
  EXPECT_LT(seconds, 10) << "the stall timeout, not a hang";
  EXPECT_TRUE(files_in(cache()).empty());
}

TEST_F(DownloadTest, CtrlCEndsAStalledTransfer) {
  auto r = request("/stalled.bin");
  const auto start = std::chrono::steady_clock::now();
  r.should_stop = [start] { return std::chrono::steady_clock::now() - start > std::chrono::milliseconds(300); };
  const std::string msg = error_of([&] { download_file(r); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(msg.find("stopped"), std::string::npos) << msg;
  EXPECT_LT(seconds, 10) << "well before the 60 s stall timeout";
  EXPECT_TRUE(files_in(cache()).empty());
}

// An HTTP proxy from $http_proxy, with the credentials of its URL: the proxy gets the absolute URL and a
// Proxy-Authorization header, and here answers itself (these machines are offline).
TEST_F(DownloadTest, UsesTheProxyFromTheEnvironmentWithItsCredentials) {
  std::string target, auth;
  auto proxy_server = std::make_unique<httplib::Server>();
  proxy_server->Get(".*", [&](const httplib::Request& req, httplib::Response& res) {
    target = req.target;
    auth = req.get_header_value("Proxy-Authorization");
    if (auth != "Basic dXNlcjpwQHNz") {  // base64("user:p@ss")
      res.status = 407;
      res.set_header("Proxy-Authenticate", "Basic realm=\"test\"");
      return;
    }
    res.set_content(files_.good, "application/octet-stream");
  });
  LocalServer proxy(std::move(proxy_server));
  const std::string at = "127.0.0.1:" + std::to_string(proxy.port());

  auto r = request("/files/good.bin");
  r.url = "http://weights.example/files/good.bin";  // never resolved here: the proxy is asked for it
  r.expected_sha256 = hash_of(files_.good);
  {
    ScopedEnv env({{"http_proxy", "http://user:p%40ss@" + at}});
    EXPECT_EQ(read_file(download_file(r).path), files_.good);
    EXPECT_EQ(target, r.url);
    EXPECT_EQ(auth, "Basic dXNlcjpwQHNz");
  }
  fs::remove(cache() / "good.bin");
  {
    ScopedEnv env({{"http_proxy", "http://" + at}});  // no credentials: the proxy refuses
    const std::string msg = error_of([&] { download_file(r); });
    EXPECT_NE(msg.find("HTTP 407"), std::string::npos) << msg;
    EXPECT_NE(msg.find(r.url), std::string::npos) << msg;
    EXPECT_TRUE(files_in(cache()).empty());
  }
  {
    ScopedEnv env({{"http_proxy", "http://user:p%40ss@" + at}, {"no_proxy", "weights.example"}});
    const std::string msg = error_of([&] { download_file(r); });  // direct: weights.example does not resolve
    EXPECT_NE(msg.find("offline"), std::string::npos) << msg;
  }
}

TEST_F(DownloadTest, TruncatedTransferIsAnErrorAndLeavesNothing) {
  const std::string msg = error_of([&] { download_file(request("/truncated.bin")); });
  EXPECT_NE(msg.find("cut off"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(files_.good.size())), std::string::npos) << msg;  // the announced size
  EXPECT_TRUE(files_in(cache()).empty());
}

TEST_F(DownloadTest, ChunkedTransferWithoutLengthWorks) {
  auto r = request("/chunked.bin");
  r.expected_sha256 = hash_of(files_.good);
  EXPECT_EQ(read_file(download_file(r).path), files_.good);
}

TEST_F(DownloadTest, SizeMismatchIsAnError) {
  auto r = request("/files/good.bin");
  r.expected_size = static_cast<std::int64_t>(files_.good.size()) + 1;
  std::string msg = error_of([&] { download_file(r); });
  EXPECT_NE(msg.find("expected " + std::to_string(r.expected_size)), std::string::npos) << msg;
  r.expected_size = 1000;  // the server sends more: stopped early
  msg = error_of([&] { download_file(r); });
  EXPECT_NE(msg.find("more than the expected 1000 bytes"), std::string::npos) << msg;
  EXPECT_TRUE(files_in(cache()).empty());
}

TEST_F(DownloadTest, WrongFormatIsRefused) {
  auto r = request("/files/page.h5", "model.h5");
  r.expected_format = "hdf5";
  const std::string msg = error_of([&] { download_file(r); });
  EXPECT_NE(msg.find("not a Keras .h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("<html>"), std::string::npos) << msg;
  EXPECT_TRUE(files_in(cache()).empty());
  r.url = server_->url("/files/model.h5");
  EXPECT_EQ(read_file(download_file(r).path), files_.h5);
}

TEST_F(DownloadTest, UnreachableHostSaysOfflineAndHowToPlaceTheFile) {
  DownloadRequest r = request("/files/good.bin");
  r.url = "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/models/resnet18-f37072fd.pth";
  r.connect_timeout_s = 5;
  const std::string msg = error_of([&] { download_file(r); });
  EXPECT_NE(msg.find("offline"), std::string::npos) << msg;
  EXPECT_NE(msg.find(r.url), std::string::npos) << msg;
  EXPECT_NE(msg.find(r.destination.string()), std::string::npos) << msg;
  EXPECT_TRUE(files_in(cache()).empty());
}

TEST_F(DownloadTest, BadUrlsAreErrors) {
  auto r = request("/files/good.bin");
  r.url = "ftp://example.com/x.bin";
  EXPECT_NE(error_of([&] { download_file(r); }).find("only http:// and https://"), std::string::npos);
  r.url = "not a url";
  EXPECT_NE(error_of([&] { download_file(r); }).find("not a URL"), std::string::npos);
}

TEST_F(DownloadTest, ProgressWithoutATerminalAndStopping) {
  std::FILE* log = std::tmpfile();  // not a terminal
  ASSERT_NE(log, nullptr);
  auto r = request("/files/good.bin");
  r.show_progress = true;
  r.progress_out = log;
  r.label = "test-weights";
  download_file(r);
  std::fflush(log);
  std::rewind(log);
  char buf[4096] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, log);
  std::fclose(log);
  const std::string text(buf, n);
  // The project's progress bar: in a log, one final line (label, time, size, rate).
  EXPECT_EQ(text.rfind("test-weights ", 0), 0u) << text;
  EXPECT_NE(text.find(" 300 KiB, "), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << "no terminal control characters in a log";

  // Ctrl-C (should_stop) removes the partial file.
  fs::remove(cache() / "good.bin");
  r.show_progress = false;
  r.should_stop = [] { return true; };
  EXPECT_NE(error_of([&] { download_file(r); }).find("stopped"), std::string::npos);
  EXPECT_TRUE(files_in(cache()).empty());
}

TEST(HttpsDownloadTest, VerifiesTheCertificate) {
  ScopedEnv no_proxy = test::without_proxies();
  TempDir dir("imagefit-https-test");
  const auto cert = test::make_self_signed_cert(dir.path());
  Files files;
  auto ssl = std::make_unique<httplib::SSLServer>(cert.cert_file.c_str(), cert.key_file.c_str());
  ASSERT_TRUE(ssl->is_valid());
  add_routes(*ssl, files);
  LocalServer server(std::move(ssl), /*https=*/true);

  DownloadRequest r;
  r.url = server.url("/redirect-relative");
  r.destination = dir.path() / "cache" / "good.bin";
  r.show_progress = false;
  r.expected_sha256 = hash_of(files.good);

  // The system's CAs do not know this certificate: refused, nothing saved.
  std::string msg = error_of([&] { download_file(r); });
  EXPECT_NE(msg.find("secure connection"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(r.destination));

  // Trusting exactly that certificate: verified and downloaded (through a redirect).
  r.ca_cert_file = cert.cert_file.string();
  EXPECT_EQ(read_file(download_file(r).path), files.good);

  // Verification off (an explicit option only tests use).
  fs::remove(r.destination);
  r.ca_cert_file.clear();
  r.verify_tls = false;
  EXPECT_EQ(read_file(download_file(r).path), files.good);
}

// fetch_weights: the catalog entry, the cache folder, $IMAGEFIT_WEIGHTS_URL_BASE and --url.
class FetchTest : public DownloadTest {
 protected:
  void SetUp() override {
    DownloadTest::SetUp();
    entry_.name = "test-fetch-weights";
    entry_.arch = "resnet18";
    entry_.file_name = "good.bin";
    entry_.url = server_->url("/files/missing.bin");  // the "publisher" does not have it; mirrors do
    entry_.sha256 = hash_of(files_.good).substr(0, 8);
    entry_.preference = 5000;
    register_weights_entry(entry_);
  }
  WeightsEntry entry_;
  ScopedEnv env_{{"IMAGEFIT_CACHE", (dir_.path() / "cache").string()},
                 {"HOME", (dir_.path() / "home").string()},
                 {"XDG_CACHE_HOME", std::nullopt},
                 {"TORCH_HOME", (dir_.path() / "torch").string()},
                 {"KERAS_HOME", (dir_.path() / "keras").string()},
                 {"IMAGEFIT_WEIGHTS_URL_BASE", std::nullopt}};
};

TEST_F(FetchTest, ResolvesTheUrl) {
  EXPECT_EQ(resolve_weights_url(entry_), entry_.url);
  EXPECT_EQ(resolve_weights_url(entry_, "https://mirror.example/w/"), "https://mirror.example/w/good.bin");
  EXPECT_EQ(resolve_weights_url(entry_, "https://mirror.example/x.bin"), "https://mirror.example/x.bin");
  ScopedEnv base({{"IMAGEFIT_WEIGHTS_URL_BASE", "http://intranet/weights"}});
  EXPECT_EQ(resolve_weights_url(entry_), "http://intranet/weights/good.bin");
  EXPECT_EQ(resolve_weights_url(entry_, "https://mirror.example/x.bin"), "https://mirror.example/x.bin");
}

TEST_F(FetchTest, DownloadsOnceIntoTheCacheAndRepairsABadCopy) {
  FetchOptions opt;
  opt.show_progress = false;
  // The publisher's URL answers 404.
  EXPECT_NE(error_of([&] { fetch_weights(entry_, opt); }).find("404"), std::string::npos);
  EXPECT_FALSE(find_cached(entry_.name));

  ScopedEnv base({{"IMAGEFIT_WEIGHTS_URL_BASE", server_->url("/files")}});
  FetchResult r = fetch_weights(entry_, opt);
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(r.path, cache() / "good.bin");
  EXPECT_EQ(read_file(r.path), files_.good);
  ASSERT_TRUE(find_cached(entry_.name));
  EXPECT_EQ(*find_cached(entry_.name), r.path);
  EXPECT_EQ(files_.good_hits.load(), 1);

  // Present and matching: not downloaded again.
  r = fetch_weights(entry_, opt);
  EXPECT_FALSE(r.downloaded);
  EXPECT_EQ(files_.good_hits.load(), 1);

  // --force downloads again.
  opt.force = true;
  EXPECT_TRUE(fetch_weights(entry_, opt).downloaded);
  EXPECT_EQ(files_.good_hits.load(), 2);

  // A damaged copy is replaced.
  opt.force = false;
  atomic_write_text(cache() / "good.bin", "damaged");
  std::FILE* log = std::tmpfile();
  opt.progress_out = log;
  r = fetch_weights(entry_, opt);
  std::fclose(log);
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(read_file(r.path), files_.good);

  // --url (a mirror with another file under that name) is still checked against the entry's hash.
  opt.force = true;
  opt.url = server_->url("/files/other.bin");
  const std::string msg = error_of([&] { fetch_weights(entry_, opt); });
  EXPECT_NE(msg.find("sha256 mismatch"), std::string::npos) << msg;
  EXPECT_EQ(read_file(cache() / "good.bin"), files_.good);
}

}  // namespace
}  // namespace imagefit

// `imagefit serve` against hostile and careless clients, the cases that need a model: pipelining
// through a prediction, decompression bombs and the decode budget, the model server's answers to
// framing errors and header deadlines, escaped request logs and a bounded SIGTERM, over real sockets.
// Each test is a probe case of issue 11 that failed before the fix. The connection handling's own
// cases (slow clients, the connection limit, framing, pipelining, unread bodies) are in
// tests/http/http_server_test.cpp, which the sanitizer build runs.
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "core/fs.h"
#include "data/image_io.h"
#include "http/raw_client.h"
#include "image_bombs.h"
#include "serve/server.h"
#include "serve_test_util.h"
#include "test_support.h"

namespace imagefit {
namespace {

using json = nlohmann::json;
using test::Clock;
using test::Raw;
using test::seconds_since;
using test::status_of;

class ServeHardening : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("imagefit-serve-hardening");
    model_path_ = (dir_->path() / "animals.imagefit").string();
    test::make_test_model(model_path_);
  }
  static void TearDownTestSuite() { delete dir_; }

  // A server on a free port, run on its own thread until the test ends.
  void start(ServeOptions options) {
    options.port = 0;
    options.threads = 2;
    server_ = std::make_unique<ModelServer>(model_path_, options);
    runner_ = std::thread([this] { server_->run(); });
    port_ = server_->port();
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (runner_.joinable()) runner_.join();
    server_.reset();
  }
  std::string get(const std::string& path) {
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  }

  static TempDir* dir_;
  static std::string model_path_;
  std::unique_ptr<ModelServer> server_;
  std::thread runner_;
  int port_ = 0;
};
TempDir* ServeHardening::dir_ = nullptr;
std::string ServeHardening::model_path_;

// Probe: requests pipelined after the first on a connection were dropped (httplib read them into
// a per-request buffer and threw it away). RFC 9112 §9.3.2: answered in order, a prediction included.
TEST_F(ServeHardening, PipelinedRequestsAreAnsweredInOrder) {
  start({});
  const std::string png = test::encode(test::test_picture_bgr(2), ".png");
  Raw c(port_);
  c.send(get("/healthz") + get("/api/model") +
         "POST /api/predict?top_k=2 HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: " +
         std::to_string(png.size()) + "\r\n\r\n" + png + get("/nope") +
         "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string got = c.read_all(10);
  const auto r = Raw::responses(got);
  ASSERT_EQ(r.size(), 5u) << got;
  EXPECT_EQ(status_of(r[0]), 200);
  EXPECT_NE(r[0].find("{\"status\":\"ok\"}"), std::string::npos);
  EXPECT_EQ(status_of(r[1]), 200);
  EXPECT_NE(r[1].find("\"classes\""), std::string::npos);
  EXPECT_EQ(status_of(r[2]), 200) << r[2];
  EXPECT_NE(r[2].find("\"top\""), std::string::npos);
  EXPECT_EQ(status_of(r[3]), 404);
  EXPECT_EQ(status_of(r[4]), 200);
  EXPECT_TRUE(c.closed());
}

// What the model server puts on the connection handling: a framing error and a header deadline are
// answered as JSON errors, and the connection closes (the cases themselves: tests/http/).
TEST_F(ServeHardening, FramingErrorsAndHeaderDeadlinesAreJsonErrors) {
  ServeOptions options;
  options.header_timeout_ms = 300;
  start(options);
  {
    Raw c(port_);
    c.send("POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\nhello");
    const std::string got = c.read_all(5);
    const auto r = Raw::responses(got);
    ASSERT_EQ(r.size(), 1u) << got;
    EXPECT_EQ(status_of(r[0]), 400) << r[0];
    EXPECT_NE(r[0].find("{\"error\":\"conflicting Content-Length headers (30 and 5): send exactly one\"}"),
              std::string::npos)
        << r[0];
    EXPECT_TRUE(c.closed());
  }
  {
    Raw c(port_);
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // headers never finished
    const std::string got = c.read_all(5);
    EXPECT_EQ(status_of(got), 408) << got;
    EXPECT_NE(got.find("{\"error\":\"the request did not arrive in time"), std::string::npos) << got;
    EXPECT_TRUE(c.closed());
  }
  EXPECT_GE(server_->stats().connections_timed_out, 1u);
}

// Probe: a 389 KB PNG that decodes to 20000×20000 took 1.8 GB a request. Refused from its header.
TEST_F(ServeHardening, ADecompressionBombIs413FromItsHeader) {
  start({});
  const uint64_t limit = max_image_pixels();
  if (limit == 0 || limit >= 400'000'000u) GTEST_SKIP() << "the pixel limit (" << limit << ") allows the bomb";
  httplib::Client c("127.0.0.1", port_);
  const auto t = Clock::now();
  httplib::MultipartFormDataItems form = {{"file", test::png_bomb(20000, 20000), "photo.png", "image/png"}};
  auto r = c.Post("/api/predict", form);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
  const std::string error = json::parse(r->body).value("error", "");
  EXPECT_EQ(error.rfind("photo.png: 20000\u00d720000 pixels is over the limit of ", 0), 0u) << error;
  EXPECT_NE(error.find("--max-image-pixels"), std::string::npos) << error;
  EXPECT_LT(seconds_since(t), 1.0);
  EXPECT_EQ(server_->stats().decode_peak_bytes, 0u) << "the bomb reached the decoder";
}

// Decode memory is a budget across requests: an image that does not fit waits, then gets 503 with
// Retry-After; a small one that fits goes ahead. The reservation lasts until the forward pass took
// the image (the long batch window keeps the first one holding its share).
TEST_F(ServeHardening, DecodeMemoryIsBoundedAcrossConcurrentRequests) {
  ServeOptions options;
  options.decode_memory_mb = 8;
  options.decode_wait_ms = 300;
  options.batch_window_ms = 2000;
  start(options);
  const std::string big = test::encode(cv::Mat(1000, 1000, CV_8UC3, cv::Scalar(10, 20, 30)), ".png");  // ~6 MB decoded
  const std::string small = test::encode(test::test_picture_bgr(1), ".png");
  auto post = [&](const std::string& bytes) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(20);
    auto r = c.Post("/api/predict", bytes, "image/png");
    return r ? std::make_pair(r->status, r->get_header_value("Retry-After")) : std::make_pair(0, std::string());
  };
  std::pair<int, std::string> first, second, third;
  std::thread a([&] { first = post(big); });
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (server_->batch_stats().waiting < 1 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(server_->batch_stats().waiting, 1u);
  std::thread b([&] { second = post(big); });
  std::thread c([&] { third = post(small); });
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(first.first, 200);
  EXPECT_EQ(second.first, 503);
  EXPECT_EQ(second.second, "1");
  EXPECT_EQ(third.first, 200);
  const ServeStats s = server_->stats();
  EXPECT_LE(s.decode_peak_bytes, s.decode_budget_bytes);
  EXPECT_GE(s.decode_peak_bytes, 6'000'000u);
  EXPECT_EQ(s.decode_in_use_bytes, 0u);
  EXPECT_EQ(s.decode_refused, 1u);
}

// The built binary: what a user runs, with signals and the request log on stderr.
class ServeHardeningCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = dir_.path() / "animals.imagefit";
    test::make_test_model(model_);
  }
  TempDir dir_{"imagefit-serve-hardening-cli"};
  fs::path model_;
};

// Probe: --log-requests wrote the decoded path raw, so %0a in a URL forged a second log line.
TEST_F(ServeHardeningCli, RequestLogLinesCannotBeForged) {
  test::ChildProcess serve({test::imagefit_binary().string(), "serve", model_.string(), "--port", "0",
                            "--log-requests"},
                           dir_.path() / "serve.log");
  const int port = serve.wait_for_port(120);
  ASSERT_GT(port, 0) << serve.log();
  {
    Raw c(port);
    c.send("GET /x%0a127.0.0.1%20GET%20/admin%20200%200%1b[2J HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    c.read_all(5);
  }
  ASSERT_EQ(serve.stop(SIGTERM, 10), 0) << serve.log();
  const std::string log = serve.log();
  EXPECT_EQ(log.find("\n127.0.0.1 GET /admin"), std::string::npos) << log;
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << log;
  EXPECT_NE(log.find("GET /x\\x0a127.0.0.1\\x20GET\\x20/admin\\x20200\\x200\\x1b[2J 404"), std::string::npos) << log;
}

// Probe: SIGTERM waited 25 s for clients that were slowly sending headers or a body. Now idle and
// header-reading connections close at once and a body in flight gets 2 s.
TEST_F(ServeHardeningCli, SigtermStopsWithinThreeSecondsDespiteSlowClients) {
  test::ChildProcess serve({test::imagefit_binary().string(), "serve", model_.string(), "--port", "0"},
                           dir_.path() / "serve.log");
  const int port = serve.wait_for_port(120);
  ASSERT_GT(port, 0) << serve.log();
  std::vector<std::unique_ptr<Raw>> slow;
  for (int i = 0; i < 10; ++i) {
    slow.push_back(std::make_unique<Raw>(port));
    if (i % 2)
      slow.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // headers, never finished
    else
      slow.back()->send("POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                        "Content-Length: 100000\r\n\r\nabc");  // a body, never finished
  }
  std::atomic<bool> dripping{true};
  std::thread drip([&] {
    while (dripping) {
      for (size_t i = 0; i < slow.size(); i += 2) slow[i]->send("x");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto t = Clock::now();
  const int code = serve.stop(SIGTERM, 30);
  const double seconds = seconds_since(t);
  dripping = false;
  drip.join();
  EXPECT_EQ(code, 0) << serve.log();
  EXPECT_LT(seconds, 3.5) << serve.log();
  std::printf("[ figures ] SIGTERM with 10 slow clients: stopped in %.2f s\n", seconds);
}

}  // namespace
}  // namespace imagefit

// `imagefit serve` against hostile and careless clients, over real sockets: slow clients that must
// not starve others, request framing (one Content-Length), pipelining, decompression bombs and the
// decode budget, escaped request logs and a bounded SIGTERM. Each test is a probe case of issue 11
// that failed before the fix.
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "core/fs.h"
#include "data/image_io.h"
#include "image_bombs.h"
#include "serve/server.h"
#include "serve_test_util.h"
#include "test_support.h"

namespace imagefit {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A raw TCP client: send bytes, read what comes back.
class Raw {
 public:
  explicit Raw(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Raw() { ::close(fd_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  bool ok() const { return ok_; }
  bool send(const std::string& s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()); }

  // Reads until `done(received)` or the peer closes or timeout_s passes; returns everything received.
  template <class Done>
  std::string read_until(Done done, double timeout_s) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    while (!done(got_) && !closed_) {
      const int ms = int(std::chrono::duration<double, std::milli>(deadline - Clock::now()).count());
      if (ms <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, ms) <= 0) break;
      char buf[8192];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      got_.append(buf, size_t(n));
    }
    return got_;
  }
  std::string read_all(double timeout_s) {
    return read_until([](const std::string&) { return false; }, timeout_s);
  }
  // Complete responses (headers + Content-Length body) received so far.
  static std::vector<std::string> responses(const std::string& text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (true) {
      const size_t head = text.find("\r\n\r\n", pos);
      if (head == std::string::npos) break;
      const std::string headers = text.substr(pos, head - pos);
      const size_t cl = headers.find("Content-Length: ");
      const size_t length = cl == std::string::npos ? 0 : std::stoul(headers.substr(cl + 16));
      if (text.size() < head + 4 + length) break;
      out.push_back(text.substr(pos, head + 4 + length - pos));
      pos = head + 4 + length;
    }
    return out;
  }
  std::string read_responses(size_t n, double timeout_s) {
    return read_until([n](const std::string& t) { return responses(t).size() >= n; }, timeout_s);
  }
  bool closed() const { return closed_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool ok_ = false, closed_ = false;
  std::string got_;
};

int status_of(const std::string& response) {
  return response.size() > 12 && response.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(response.substr(9, 3)) : 0;
}

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

// Probe: 33+ clients that send their headers a byte at a time made /healthz unanswerable (a
// 32-thread pool, and httplib's timeout is per read, so a byte every few seconds holds a thread
// forever). Here: 100 of them, /healthz answered at once, and each slow client cut off by the
// header deadline.
TEST_F(ServeHardening, HundredSlowLorisClientsDoNotStarveHealthz) {
  ServeOptions options;
  options.header_timeout_ms = 3000;
  start(options);
  constexpr int kSlow = 100;
  std::vector<std::unique_ptr<Raw>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<Raw>(port_));
    ASSERT_TRUE(slow.back()->ok());
    slow.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }
  std::atomic<bool> dripping{true};
  std::thread drip([&] {  // one more header byte on every connection every 200 ms
    while (dripping) {
      for (auto& s : slow) s->send("a");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  double worst_ms = 0;
  for (int i = 0; i < 5; ++i) {
    const auto t = Clock::now();
    Raw h(port_);
    ASSERT_TRUE(h.send(get("/healthz")));
    const auto r = Raw::responses(h.read_responses(1, 5));
    worst_ms = std::max(worst_ms, seconds_since(t) * 1000);
    ASSERT_EQ(r.size(), 1u) << "/healthz not answered while " << kSlow << " slow clients were connected";
    EXPECT_EQ(status_of(r[0]), 200);
  }
  EXPECT_LT(worst_ms, 1000) << "/healthz took " << worst_ms << " ms";
  const ServeStats during = server_->stats();
  EXPECT_GE(during.connections_peak, size_t(kSlow + 1));
  // The header deadline (3 s from connecting) ends every slow client, dripping or not: 408 and close.
  int cut = 0, answered_408 = 0;
  for (auto& s : slow) {
    const std::string got = s->read_all(6);
    cut += s->closed();
    answered_408 += status_of(got) == 408;
  }
  dripping = false;
  drip.join();
  EXPECT_EQ(cut, kSlow);
  EXPECT_EQ(answered_408, kSlow);
  std::printf("[ figures ] %d slow-loris connections held; /healthz worst %.1f ms; peak %zu connections\n", kSlow,
              worst_ms, during.connections_peak);
}

// Over --http-threads connections: a 503 with Retry-After at once, not a silent queue.
TEST_F(ServeHardening, OverTheConnectionLimitIs503WithRetryAfter) {
  ServeOptions options;
  options.http_threads = 4;
  start(options);
  std::vector<std::unique_ptr<Raw>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Raw>(port_));
    held.back()->send("GET /healthz HTTP/1.1\r\n");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Raw extra(port_);
  extra.send(get("/healthz"));
  const std::string got = extra.read_all(3);
  EXPECT_EQ(status_of(got), 503) << got;
  EXPECT_NE(got.find("Retry-After: 1"), std::string::npos) << got;
  EXPECT_GE(server_->stats().connections_refused, 1u);
}

// Probe: a duplicated, conflicting Content-Length was accepted (httplib takes the first): two
// parsers that pick differently are request smuggling. RFC 9112 §6.3: 400, then close.
TEST_F(ServeHardening, ConflictingContentLengthsAre400AndTheConnectionCloses) {
  start({});
  {
    Raw c(port_);
    c.send("POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5\r\n"
           "Content-Length: 30\r\n\r\nhelloGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string got = c.read_all(5);
    const auto r = Raw::responses(got);
    ASSERT_EQ(r.size(), 1u) << got;
    EXPECT_EQ(status_of(r[0]), 400) << r[0];
    EXPECT_NE(r[0].find("conflicting Content-Length headers (30 and 5)"), std::string::npos) << r[0];
    EXPECT_NE(r[0].find("Connection: close"), std::string::npos) << r[0];
    EXPECT_TRUE(c.closed()) << "the connection stayed open after a request of unknown length";
  }
  {
    Raw c(port_);
    c.send("POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
           "0\r\n\r\n");
    const auto r = Raw::responses(c.read_all(5));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(status_of(r[0]), 400) << r[0];
    EXPECT_NE(r[0].find("both Content-Length and Transfer-Encoding"), std::string::npos) << r[0];
  }
  {
    Raw c(port_);
    c.send("POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n");
    const auto r = Raw::responses(c.read_all(5));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(status_of(r[0]), 400) << r[0];
    EXPECT_NE(r[0].find("invalid Content-Length"), std::string::npos) << r[0];
  }
  {  // the same value twice (or as a list) is one length: allowed
    Raw c(port_);
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0, 0\r\n\r\n");
    const auto r = Raw::responses(c.read_responses(1, 5));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(status_of(r[0]), 200) << r[0];
  }
}

// Probe: requests pipelined after the first on a connection were dropped (httplib read them into
// a per-request buffer and threw it away). RFC 9112 §9.3.2: answered in order.
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

// A GET with a body the handler never reads: the body is skipped, not parsed as the next request.
TEST_F(ServeHardening, AnUnreadBodyIsNotTakenForTheNextRequest) {
  start({});
  Raw c(port_);
  const std::string smuggled = get("/nope-smuggled");
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" +
         smuggled + get("/api/model"));
  const auto r = Raw::responses(c.read_responses(2, 5));
  ASSERT_GE(r.size(), 2u);
  EXPECT_EQ(status_of(r[0]), 200);
  EXPECT_EQ(status_of(r[1]), 200) << r[1];
  EXPECT_NE(r[1].find("\"classes\""), std::string::npos) << r[1];
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

TEST(ServeLog, EscapesControlCharactersAndNonAscii) {
  EXPECT_EQ(escape_for_log("/a\nb"), "/a\\x0ab");
  EXPECT_EQ(escape_for_log("/x\x1b[31m \\"), "/x\\x1b[31m\\x20\\x5c");
  EXPECT_EQ(escape_for_log("/caf\xc3\xa9"), "/caf\\xc3\\xa9");
  EXPECT_EQ(escape_for_log("/plain/path?q=1"), "/plain/path?q=1");
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

// The connection handling `imagefit serve` runs on (http/http_server.cpp), against hostile and
// careless clients over real sockets, without a model: slow clients that must not starve others, the
// connection limit, request framing (one Content-Length), pipelining, unread bodies, escaped request
// logs. Each test is a probe case of issue 11 that failed before the fix; they moved here from
// tests/serve/hardening_test.cpp (which keeps the cases that need a model) so that the sanitizer
// build runs them (cmake/sanitize.cmake).
#include <httplib.h>
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>

#include "http/http_server.h"
#include "http/raw_client.h"

namespace imagefit {
namespace {

using test::Clock;
using test::get_request;
using test::Raw;
using test::seconds_since;
using test::status_of;

// The HTTP glue ModelServer puts on the server (serve/server.cpp), in its simplest form: a framing
// error is answered by the pre-routing handler, a request with neither Content-Length nor
// Transfer-Encoding has no body, and a request past its header deadline is 408.
void add_test_routes(HardenedServer& s) {
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  s.Get("/other", [](const httplib::Request&, httplib::Response& res) { res.set_content("other", "text/plain"); });
  s.Post("/api/predict", [](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    size_t bytes = 0;
    auto count = [&](const char*, size_t n) {
      bytes += n;
      return true;
    };
    if (req.is_multipart_form_data())
      reader([](const httplib::MultipartFormData&) { return true; }, count);
    else
      reader(count);
    res.set_content("{\"bytes\":" + std::to_string(bytes) + "}", "application/json");
  });
  s.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (const auto* bad = HardenedServer::current_framing_error()) {
      res.status = bad->status;
      res.set_content(bad->message, "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding"))
      const_cast<httplib::Request&>(req).set_header("Content-Length", "0");
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_error_handler(httplib::Server::Handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 400 && HardenedServer::current_request_timed_out()) {
      res.status = 408;
      res.set_header("Connection", "close");
    }
    if (res.body.empty()) res.set_content("status " + std::to_string(res.status), "text/plain");
  }));
}

class HttpHardening : public ::testing::Test {
 protected:
  // A server on a free loopback port, run on its own thread until the test ends.
  void start(const ConnectionLimits& limits = {}) {
    server_ = std::make_unique<HardenedServer>(limits);
    add_test_routes(*server_);
    // As ModelServer does: Debian's httplib listens with a backlog of 5, too few for a burst of
    // connections; listening again on the bound socket raises it.
    server_->set_socket_options([this](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      listening_ = sock;
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    ASSERT_NE(listening_, INVALID_SOCKET);
    ::listen(listening_, 1024);
    runner_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (runner_.joinable()) runner_.join();
    server_.reset();
  }

  std::unique_ptr<HardenedServer> server_;
  std::thread runner_;
  socket_t listening_ = INVALID_SOCKET;
  int port_ = 0;
};

// Probe: 33+ clients that send their headers a byte at a time made /healthz unanswerable (a
// 32-thread pool, and httplib's timeout is per read, so a byte every few seconds holds a thread
// forever). Here: 100 of them, /healthz answered at once, and each slow client cut off by the
// header deadline.
TEST_F(HttpHardening, HundredSlowLorisClientsDoNotStarveHealthz) {
  ConnectionLimits limits;
  limits.header_timeout_ms = 3000;
  start(limits);
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
    ASSERT_TRUE(h.send(get_request("/healthz")));
    const auto r = Raw::responses(h.read_responses(1, 5));
    worst_ms = std::max(worst_ms, seconds_since(t) * 1000);
    ASSERT_EQ(r.size(), 1u) << "/healthz not answered while " << kSlow << " slow clients were connected";
    EXPECT_EQ(status_of(r[0]), 200);
  }
  EXPECT_LT(worst_ms, 1000) << "/healthz took " << worst_ms << " ms";
  const ConnectionStats during = server_->stats();
  EXPECT_GE(during.peak, size_t(kSlow + 1));
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
  EXPECT_GE(server_->stats().timed_out, uint64_t(kSlow));
  std::printf("[ figures ] %d slow-loris connections held; /healthz worst %.1f ms; peak %zu connections\n", kSlow,
              worst_ms, during.peak);
}

// Over max_connections (--http-threads): a 503 with Retry-After at once, not a silent queue.
TEST_F(HttpHardening, OverTheConnectionLimitIs503WithRetryAfter) {
  ConnectionLimits limits;
  limits.max_connections = 4;
  start(limits);
  std::vector<std::unique_ptr<Raw>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Raw>(port_));
    held.back()->send("GET /healthz HTTP/1.1\r\n");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Raw extra(port_);
  extra.send(get_request("/healthz"));
  const std::string got = extra.read_all(3);
  EXPECT_EQ(status_of(got), 503) << got;
  EXPECT_NE(got.find("Retry-After: 1"), std::string::npos) << got;
  EXPECT_GE(server_->stats().refused, 1u);
}

// Probe: a duplicated, conflicting Content-Length was accepted (httplib takes the first): two
// parsers that pick differently are request smuggling. RFC 9112 §6.3: 400, then close.
TEST_F(HttpHardening, ConflictingContentLengthsAre400AndTheConnectionCloses) {
  start();
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
  {
    Raw c(port_);
    c.send("POST /api/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
    const auto r = Raw::responses(c.read_all(5));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(status_of(r[0]), 501) << r[0];
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
// a per-request buffer and threw it away). RFC 9112 §9.3.2: answered in order, a body included.
// (tests/serve/hardening_test.cpp pipelines a prediction through the model server.)
TEST_F(HttpHardening, PipelinedRequestsAreAnsweredInOrder) {
  start();
  const std::string body(3000, 'b');
  Raw c(port_);
  c.send(get_request("/healthz") + get_request("/other") +
         "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body + get_request("/nope") +
         "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string got = c.read_all(10);
  const auto r = Raw::responses(got);
  ASSERT_EQ(r.size(), 5u) << got;
  EXPECT_EQ(status_of(r[0]), 200);
  EXPECT_NE(r[0].find("{\"status\":\"ok\"}"), std::string::npos);
  EXPECT_EQ(status_of(r[1]), 200);
  EXPECT_NE(r[1].find("other"), std::string::npos);
  EXPECT_EQ(status_of(r[2]), 200) << r[2];
  EXPECT_NE(r[2].find("{\"bytes\":3000}"), std::string::npos) << r[2];
  EXPECT_EQ(status_of(r[3]), 404);
  EXPECT_EQ(status_of(r[4]), 200);
  EXPECT_TRUE(c.closed());
}

// A GET with a body the handler never reads: the body is skipped, not parsed as the next request.
TEST_F(HttpHardening, AnUnreadBodyIsNotTakenForTheNextRequest) {
  start();
  Raw c(port_);
  const std::string smuggled = get_request("/nope-smuggled");
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" +
         smuggled + get_request("/other"));
  const auto r = Raw::responses(c.read_responses(2, 5));
  ASSERT_GE(r.size(), 2u);
  EXPECT_EQ(status_of(r[0]), 200);
  EXPECT_EQ(status_of(r[1]), 200) << r[1];
  EXPECT_NE(r[1].find("other"), std::string::npos) << r[1];
}

// serve_connection, as the fuzz target (fuzz/http_request.cpp) uses it: one end of a socketpair with
// the client's whole stream in it and its write side shut; it returns once the stream is answered.
TEST(HttpServeConnection, AnswersAWholeStreamOnASocketpair) {
  ConnectionLimits limits;
  limits.header_timeout_ms = limits.body_timeout_ms = 1000;
  HardenedServer server(limits);
  add_test_routes(server);
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  const std::string stream = get_request("/healthz") +
                             "POST /api/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" +
                             get_request("/after-chunked-closes");
  ASSERT_EQ(::send(fds[1], stream.data(), stream.size(), MSG_NOSIGNAL), ssize_t(stream.size()));
  ::shutdown(fds[1], SHUT_WR);
  const auto t = Clock::now();
  server.serve_connection(fds[0]);
  EXPECT_LT(seconds_since(t), 0.9);
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fds[1], buf, sizeof buf, 0)) > 0) got.append(buf, size_t(n));
  ::close(fds[1]);
  const auto r = Raw::responses(got);
  ASSERT_EQ(r.size(), 2u) << got;
  EXPECT_EQ(status_of(r[0]), 200);
  EXPECT_NE(r[1].find("{\"bytes\":5}"), std::string::npos) << r[1];
  EXPECT_EQ(server.stats().open, 0u);
}

TEST(HttpLog, EscapesControlCharactersAndNonAscii) {
  EXPECT_EQ(escape_for_log("/a\nb"), "/a\\x0ab");
  EXPECT_EQ(escape_for_log("/x\x1b[31m \\"), "/x\\x1b[31m\\x20\\x5c");
  EXPECT_EQ(escape_for_log("/caf\xc3\xa9"), "/caf\\xc3\\xa9");
  EXPECT_EQ(escape_for_log("/plain/path?q=1"), "/plain/path?q=1");
}

}  // namespace
}  // namespace imagefit

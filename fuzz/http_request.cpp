// HTTP request handling (http/http_server.cpp: HardenedServer's connection over cpp-httplib's
// parser) on arbitrary bytes, taken as one client's whole stream: pipelined requests, the framing
// checks (Content-Length, Transfer-Encoding), bodies (Content-Length, chunked, multipart, unread
// ones skipped), keep-alive and the lingering close. The bytes go into one end of a socketpair whose
// write side is then shut; serve_connection handles the other end in process, as a connection thread
// does, with a few handlers like the model server's. A thread plays the client, writing and reading
// at once so that neither side can block the other.
//
// cpp-httplib is Debian's compiled library, not instrumented: coverage guides the fuzzer through
// imagefit's code only, and fuzz/http_request.dict gives it HTTP's words.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <thread>

#include "http/http_server.h"

namespace {

using imagefit::HardenedServer;

HardenedServer& server() {
  static HardenedServer* s = [] {
    // Short deadlines: the stream ends at once (EOF), so they only matter if something waits anyway.
    imagefit::ConnectionLimits limits;
    limits.header_timeout_ms = 500;
    limits.body_timeout_ms = 500;
    limits.idle_read_timeout_ms = 250;
    limits.keep_alive_timeout_ms = 250;
    limits.write_timeout_ms = 1000;
    limits.keep_alive_max_requests = 100;
    auto* srv = new HardenedServer(limits);
    srv->set_payload_max_length(64 * 1024);
    srv->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"status\":\"ok\"}", "application/json");
    });
    auto read_body = [](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
      size_t bytes = 0, parts = 0;
      auto count = [&](const char*, size_t n) {
        bytes += n;
        return bytes <= 64 * 1024;  // the model server's own limit on chunked bodies
      };
      const bool ok = req.is_multipart_form_data()
                          ? reader([&](const httplib::MultipartFormData&) { return ++parts < 16; }, count)
                          : reader(count);
      res.status = ok ? 200 : 400;
      res.set_content("{\"bytes\":" + std::to_string(bytes) + ",\"parts\":" + std::to_string(parts) + "}",
                      "application/json");
    };
    srv->Post("/predict", read_body);
    srv->Post("/api/predict", read_body);
    srv->Put(".*", read_body);
    srv->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      if (const auto* bad = HardenedServer::current_framing_error()) {
        res.status = bad->status;
        res.set_content(bad->message, "text/plain");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding"))
        const_cast<httplib::Request&>(req).set_header("Content-Length", "0");
      return httplib::Server::HandlerResponse::Unhandled;
    });
    srv->set_error_handler(httplib::Server::Handler([](const httplib::Request& req, httplib::Response& res) {
      if (res.status == 400 && HardenedServer::current_request_timed_out()) res.status = 408;
      // What the model server's request log writes.
      res.set_content(imagefit::escape_for_log(req.method + " " + req.path), "text/plain");
    }));
    return srv;
  }();
  return *s;
}

// The client: writes the stream, shuts its write side, reads the answers until the server closes.
void client(int fd, const uint8_t* data, size_t size) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  size_t sent = 0;
  bool shut = false;
  if (size == 0) {
    ::shutdown(fd, SHUT_WR);
    shut = true;
  }
  char sink[64 * 1024];
  while (true) {
    pollfd p{fd, short(POLLIN | (shut ? 0 : POLLOUT)), 0};
    if (::poll(&p, 1, 10000) <= 0) std::abort();  // the server neither reads nor answers: a hang
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::recv(fd, sink, sizeof sink, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;  // closed (or reset)
    }
    if (!shut && (p.revents & POLLOUT)) {
      const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
      if (n > 0) sent += size_t(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) sent = size;  // the server closed early
      if (sent == size) {
        ::shutdown(fd, SHUT_WR);
        shut = true;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  HardenedServer& srv = server();
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  std::thread peer(client, fds[1], data, size);
  srv.serve_connection(fds[0]);  // closes fds[0]
  peer.join();
  ::close(fds[1]);
  return 0;
}

#pragma once
// cpp-httplib's Server with imagefit's own connection handling (httplib 0.11, Debian's compiled
// library). httplib parses requests, routes and writes responses; this class owns the sockets:
//  - one thread a connection, started on demand up to `max_connections` (over it: 503 at once), so a
//    client that sends slowly holds only its own thread, never a shared pool's;
//  - deadlines for a whole request, not per read: the request line and headers within
//    `header_timeout_ms` of the connection (or, kept alive, of the request's first byte), at most
//    64 KB of them; the body within `body_timeout_ms` (httplib only times out a read that gets
//    nothing at all, so a byte every few seconds held a thread forever);
//  - one read buffer for the connection's life, so pipelined requests are answered in order
//    (httplib's per-request buffer dropped the requests after the first);
//  - request framing per RFC 9112 §6.3: conflicting Content-Length values, Content-Length with
//    Transfer-Encoding, or a transfer coding other than chunked is answered 400 (501) and the
//    connection closed (current_framing_error() tells the pre-routing handler);
//  - a bounded stop: idle and header-reading connections close at once, requests in flight get
//    `shutdown_grace_ms` to finish reading and writing.
// Torch-free (its own library, imagefit_http): the sanitizer build tests it (tests/http/) and
// fuzzes it (fuzz/http_request.cpp) without the model code; serve/server.cpp puts the model on it.
#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace imagefit {

struct ConnectionLimits {
  size_t max_connections = 1024;
  int header_timeout_ms = 10000;
  int body_timeout_ms = 60000;
  int idle_read_timeout_ms = 10000;  // a body that stops coming for this long is dropped
  int keep_alive_timeout_ms = 5000;
  size_t keep_alive_max_requests = 1000;
  int write_timeout_ms = 10000;
  int shutdown_grace_ms = 2000;
};

struct ConnectionStats {
  size_t open = 0;        // connections open now
  size_t peak = 0;        // most open at once
  uint64_t refused = 0;   // turned away with 503 (over max_connections)
  uint64_t timed_out = 0; // closed by a header or body deadline
};

class HardenedServer : public httplib::Server {
 public:
  explicit HardenedServer(const ConnectionLimits& limits);
  ~HardenedServer() override;

  // Inside a handler: the framing error of the request being handled (status, message), or null.
  struct FramingError {
    int status;
    std::string message;
  };
  static const FramingError* current_framing_error();
  // Inside a handler: whether the request's header or body deadline passed (answer 408).
  static bool current_request_timed_out();

  ConnectionStats stats() const;

  // Serves one connected socket on the calling thread, as a connection thread does, then closes it
  // (the fuzz target hands it one end of a socketpair; listening is not needed).
  void serve_connection(socket_t sock);

 private:
  class Connection;
  bool process_and_close_socket(socket_t sock) override;  // called on the accept thread
  void worker();
  void serve(socket_t sock);
  void refuse(socket_t sock);
  void check_framing(Connection& conn, httplib::Request& req);
  void shutdown_connections();  // from the task queue's shutdown(), after listening stopped

  ConnectionLimits limits_;
  int stop_fd_ = -1;  // eventfd: readable once stopping
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> stop_deadline_ns_{0};

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<socket_t> pending_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool exit_workers_ = false;
  ConnectionStats stats_;
  static thread_local Connection* current_;  // the connection this thread is serving
};

// Escapes what a client sent for a plain-text line (the request log): bytes outside printable
// ASCII, and the backslash, become \xHH, so a request cannot write a forged line or a terminal escape.
std::string escape_for_log(const std::string& text);

}  // namespace imagefit

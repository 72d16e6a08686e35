#include "http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <set>

namespace imagefit {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxHeaderBytes = 64 * 1024;  // request line + headers (httplib caps each line at 8 KB only)
constexpr size_t kMaxDrainBytes = 64 * 1024;   // unread body bytes skipped to keep a connection
constexpr size_t kRecvChunk = 64 * 1024;

int64_t to_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
Clock::time_point from_ns(int64_t ns) { return Clock::time_point(std::chrono::nanoseconds(ns)); }

int ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : int(std::min<int64_t>(left, 1 << 30)) + 1;
}

std::string trim_lower(const std::string& s) {
  const auto first = s.find_first_not_of(" \t"), last = s.find_last_not_of(" \t");
  std::string t = first == std::string::npos ? "" : s.substr(first, last - first + 1);
  for (auto& c : t) c = char(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

// httplib runs every job inline: process_and_close_socket only hands the socket to a connection
// thread; its shutdown() (called once listening stopped) stops the connections.
class InlineQueue : public httplib::TaskQueue {
 public:
  explicit InlineQueue(std::function<void()> on_shutdown) : on_shutdown_(std::move(on_shutdown)) {}
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override { on_shutdown_(); }

 private:
  std::function<void()> on_shutdown_;
};

}  // namespace

// One client connection: a Stream over the socket with one buffer for the connection's life and
// deadlines for the phase it is in.
class HardenedServer::Connection : public httplib::Stream {
 public:
  enum class Phase { kIdle, kHeaders, kBody };

  Connection(socket_t sock, HardenedServer& owner) : sock_(sock), owner_(owner) {}

  bool is_readable() const override { return pos_ < buf_.size(); }
  bool is_writable() const override { return wait_for(POLLOUT, write_deadline()); }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == buf_.size()) {
      const ssize_t got = fill();
      if (got <= 0) return got;
    }
    const size_t n = std::min(size, buf_.size() - pos_);
    std::memcpy(ptr, buf_.data() + pos_, n);
    pos_ += n;
    if (phase_ == Phase::kHeaders && (header_bytes_ += n) > kMaxHeaderBytes) {
      failed_ = true;  // headers without end: refuse instead of growing httplib's line buffer
      return -1;
    }
    if (phase_ == Phase::kBody) body_bytes_ += n;
    return ssize_t(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    const auto deadline = write_deadline();
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::send(sock_, ptr + done, size - done, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        done += size_t(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (!wait_for(POLLOUT, deadline)) return -1;
      } else {
        return -1;
      }
    }
    return ssize_t(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address(::getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address(::getsockname, ip, port);
  }
  socket_t socket() const override { return sock_; }

  // Waits until the next request's first byte is here (it may be already: pipelining).
  bool wait_for_request(Clock::time_point deadline) {
    phase_ = Phase::kIdle;
    deadline_ = deadline;
    if (pos_ < buf_.size()) return true;
    return fill() > 0;
  }
  void begin_headers(Clock::time_point deadline) {
    phase_ = Phase::kHeaders;
    deadline_ = deadline;
    header_bytes_ = 0;
  }
  void begin_body(Clock::time_point deadline) {
    phase_ = Phase::kBody;
    deadline_ = deadline;
    body_bytes_ = 0;
    body_length_ = -1;
  }
  void expect_body(int64_t length) { body_length_ = length; }

  // After the response: skips what the handler left of a Content-Length body (a GET with a body,
  // an early error), so the next request starts where it should. False: close instead.
  bool finish_body() {
    if (body_length_ < 0 || uint64_t(body_length_) <= body_bytes_) return true;
    const uint64_t left = uint64_t(body_length_) - body_bytes_;
    if (left > kMaxDrainBytes) return false;
    char sink[4096];
    uint64_t skipped = 0;
    while (skipped < left) {
      const ssize_t n = read(sink, size_t(std::min<uint64_t>(sizeof sink, left - skipped)));
      if (n <= 0) return false;
      skipped += uint64_t(n);
    }
    return true;
  }

  // Lingering close: the client reads the last response before the connection goes, instead of
  // losing it to a reset for the bytes it sent that were never read.
  void close_gracefully() {
    ::shutdown(sock_, SHUT_WR);
    const auto deadline = std::min(Clock::now() + std::chrono::milliseconds(500), stop_bound());
    char sink[4096];
    size_t drained = 0;
    while (drained < 256 * 1024 && ms_until(deadline) > 0) {
      pollfd p{sock_, POLLIN, 0};
      if (::poll(&p, 1, ms_until(deadline)) <= 0) break;
      const ssize_t n = ::recv(sock_, sink, sizeof sink, MSG_DONTWAIT);
      if (n <= 0) break;
      drained += size_t(n);
    }
    ::close(sock_);
  }

  bool failed() const { return failed_; }
  bool timed_out() const { return timed_out_; }
  bool must_close() const { return must_close_; }
  void set_must_close() { must_close_ = true; }
  const FramingError* framing_error() const { return framing_.status ? &framing_ : nullptr; }
  void set_framing_error(int status, std::string message) {
    framing_ = {status, std::move(message)};
    must_close_ = true;
  }
  void clear_request_state() {
    framing_ = {0, ""};
    timed_out_ = false;
  }

 private:
  Clock::time_point stop_bound() const {
    return owner_.stopping_ ? from_ns(owner_.stop_deadline_ns_.load()) : Clock::time_point::max();
  }
  Clock::time_point write_deadline() const {
    return std::min(Clock::now() + std::chrono::milliseconds(owner_.limits_.write_timeout_ms), stop_bound());
  }

  // Waits for `events` on the socket until `deadline` (or the stop's bound).
  bool wait_for(short events, Clock::time_point deadline) const {
    deadline = std::min(deadline, stop_bound());
    while (true) {
      const int ms = ms_until(deadline);
      if (ms == 0) return false;
      pollfd p{sock_, events, 0};
      const int r = ::poll(&p, 1, ms);
      if (r > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
      if (r < 0 && errno != EINTR) return false;
    }
  }

  // Reads more bytes into the buffer: > 0 got some, 0 the client closed, -1 deadline, stop or error.
  ssize_t fill() {
    if (pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    }
    // A body may take long as a whole, but not with long silences.
    const auto idle_deadline = phase_ == Phase::kBody
                                   ? Clock::now() + std::chrono::milliseconds(owner_.limits_.idle_read_timeout_ms)
                                   : Clock::time_point::max();
    while (true) {
      // Stopping: a connection between requests or still sending headers closes now; a body in
      // flight gets the grace period.
      const bool stopping = owner_.stopping_.load();
      if (stopping && phase_ != Phase::kBody) return -1;
      const auto deadline = std::min({deadline_, stop_bound(), idle_deadline});
      const int ms = ms_until(deadline);
      if (ms == 0) {
        if (!stopping) timed_out_ = true;
        failed_ = true;
        return -1;
      }
      pollfd p[2] = {{sock_, POLLIN, 0}, {owner_.stop_fd_, POLLIN, 0}};
      const int r = ::poll(p, stopping ? 1 : 2, ms);
      if (r < 0 && errno != EINTR) return -1;
      if (r <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const size_t old = buf_.size();
      buf_.resize(old + kRecvChunk);
      const ssize_t n = ::recv(sock_, buf_.data() + old, kRecvChunk, MSG_DONTWAIT);
      buf_.resize(old + size_t(std::max<ssize_t>(n, 0)));
      if (n > 0) return n;
      if (n == 0) return 0;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
    }
  }

  template <class F>
  void address(F getname, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ip.clear();
    port = -1;
    if (getname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = "";
    if (addr.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
      port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
      port = ntohs(a->sin6_port);
    }
    ip = text;
  }

  socket_t sock_;
  HardenedServer& owner_;
  std::string buf_;
  size_t pos_ = 0;
  Phase phase_ = Phase::kIdle;
  Clock::time_point deadline_ = Clock::time_point::max();
  size_t header_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  int64_t body_length_ = -1;
  bool failed_ = false, timed_out_ = false, must_close_ = false;
  FramingError framing_{0, ""};
};

thread_local HardenedServer::Connection* HardenedServer::current_ = nullptr;

HardenedServer::HardenedServer(const ConnectionLimits& limits) : limits_(limits) {
  limits_.max_connections = std::max<size_t>(1, limits_.max_connections);
  limits_.keep_alive_max_requests = std::max<size_t>(1, limits_.keep_alive_max_requests);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  new_task_queue = [this] { return new InlineQueue([this] { shutdown_connections(); }); };
}

HardenedServer::~HardenedServer() {
  shutdown_connections();
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

const HardenedServer::FramingError* HardenedServer::current_framing_error() {
  return current_ ? current_->framing_error() : nullptr;
}

bool HardenedServer::current_request_timed_out() { return current_ && current_->timed_out(); }

ConnectionStats HardenedServer::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

bool HardenedServer::process_and_close_socket(socket_t sock) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_ && stats_.open < limits_.max_connections) {
      ++stats_.open;
      stats_.peak = std::max(stats_.peak, stats_.open);
      pending_.push_back(sock);
      if (idle_ >= pending_.size())
        wake_.notify_one();
      else
        threads_.emplace_back([this] { worker(); });
      return true;
    }
    ++stats_.refused;
  }
  refuse(sock);
  return true;
}

void HardenedServer::worker() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    ++idle_;
    wake_.wait(lock, [&] { return exit_workers_ || !pending_.empty(); });
    --idle_;
    if (pending_.empty()) return;
    const socket_t sock = pending_.front();
    pending_.pop_front();
    lock.unlock();
    try {
      serve(sock);
    } catch (...) {  // a connection's failure never ends the server
      ::close(sock);
    }
    lock.lock();
    --stats_.open;
  }
}

// Over max_connections: a short 503 without reading the request, then close.
void HardenedServer::refuse(socket_t sock) {
  static const std::string body =
      "{\"error\":\"the server has as many connections open as it allows (imagefit serve --http-threads): "
      "retry in a moment\"}";
  const std::string response = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
                               "Content-Type: application/json; charset=utf-8\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body;
  [[maybe_unused]] ssize_t n = ::send(sock, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(sock, SHUT_WR);
  ::close(sock);
}

void HardenedServer::serve(socket_t sock) {
  Connection conn(sock, *this);
  const auto accepted = Clock::now();
  const auto header_time = std::chrono::milliseconds(limits_.header_timeout_ms);
  bool counted_timeout = false;
  for (size_t n = 0; n < limits_.keep_alive_max_requests; ++n) {
    const auto idle_deadline =
        n == 0 ? accepted + header_time : Clock::now() + std::chrono::milliseconds(limits_.keep_alive_timeout_ms);
    if (!conn.wait_for_request(idle_deadline)) {
      if (n == 0 && conn.timed_out()) counted_timeout = true;
      break;
    }
    // The first request's headers are due header_timeout after the connection was made (a
    // slow client gains nothing by waiting to send its first byte); later ones after their first byte.
    conn.begin_headers(n == 0 ? accepted + header_time : Clock::now() + header_time);
    conn.clear_request_state();
    current_ = &conn;
    const bool last = n + 1 == limits_.keep_alive_max_requests || stopping_;
    bool client_closes = false;
    const bool ok = process_request(conn, last, client_closes, [&](httplib::Request& req) {
      conn.begin_body(Clock::now() + std::chrono::milliseconds(limits_.body_timeout_ms));
      check_framing(conn, req);
    });
    current_ = nullptr;
    if (conn.timed_out()) counted_timeout = true;
    if (!ok || client_closes || last || conn.failed() || conn.must_close() || stopping_) break;
    if (!conn.finish_body()) break;
  }
  if (counted_timeout) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.timed_out;
  }
  conn.close_gracefully();
}

// RFC 9112 §6.3: a request whose body length is ambiguous is an error, answered and then the
// connection closed, since where its body ends (and the next request starts) is unknown. httplib
// itself takes the first Content-Length and ignores any other: two proxies that pick differently
// is request smuggling.
void HardenedServer::check_framing(Connection& conn, httplib::Request& req) {
  std::set<std::string> lengths;
  std::string bad_length;
  const size_t count = req.get_header_value_count("Content-Length");
  for (size_t i = 0; i < count; ++i) {
    const std::string value = req.get_header_value("Content-Length", i);
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      const std::string item = trim_lower(value.substr(start, comma - start));
      if (item.empty() || item.size() > 18 || item.find_first_not_of("0123456789") != std::string::npos)
        bad_length = item;
      else
        lengths.insert(std::to_string(std::stoull(item)));
      start = comma + 1;
    }
  }
  const bool has_te = req.has_header("Transfer-Encoding");
  const std::string te = trim_lower(req.get_header_value("Transfer-Encoding"));
  if (!bad_length.empty() || (count && lengths.empty())) {
    conn.set_framing_error(400, "invalid Content-Length '" + bad_length + "': it must be a number of bytes");
  } else if (lengths.size() > 1) {
    conn.set_framing_error(400, "conflicting Content-Length headers (" + *lengths.begin() + " and " +
                                    *std::next(lengths.begin()) + "): send exactly one");
  } else if (has_te && req.get_header_value_count("Transfer-Encoding") == 1 && te == "chunked" && count) {
    conn.set_framing_error(400, "both Content-Length and Transfer-Encoding: send one of them");
  } else if (has_te && (te != "chunked" || req.get_header_value_count("Transfer-Encoding") != 1)) {
    conn.set_framing_error(501, "Transfer-Encoding '" + req.get_header_value("Transfer-Encoding") +
                                    "' is not supported (only chunked)");
  }
  if (conn.framing_error()) {
    // No body is read for this request; httplib writes Connection: close.
    for (const char* h : {"Content-Length", "Transfer-Encoding", "Expect", "Connection"}) req.headers.erase(h);
    req.set_header("Content-Length", "0");
    req.set_header("Connection", "close");
    return;
  }
  if (has_te) {
    // Whether a handler read a chunked body to its end is not visible here: close after it.
    conn.set_must_close();
    req.headers.erase("Connection");
    req.set_header("Connection", "close");
  } else if (count) {
    req.headers.erase("Content-Length");  // one normalized value ("5, 5" → "5")
    req.set_header("Content-Length", *lengths.begin());
    conn.expect_body(int64_t(std::stoull(*lengths.begin())));
  }
}

void HardenedServer::serve_connection(socket_t sock) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.open;
    stats_.peak = std::max(stats_.peak, stats_.open);
  }
  try {
    serve(sock);
  } catch (...) {
    ::close(sock);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  --stats_.open;
}

void HardenedServer::shutdown_connections() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_) {
      stop_deadline_ns_ = to_ns(Clock::now() + std::chrono::milliseconds(limits_.shutdown_grace_ms));
      stopping_ = true;
    }
    exit_workers_ = true;
    threads.swap(threads_);
  }
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof one);
  }
  wake_.notify_all();
  for (auto& t : threads) t.join();
}

std::string escape_for_log(const std::string& text) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const unsigned char c : text) {
    if (c >= 0x21 && c < 0x7f && c != '\\') {
      out += char(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace imagefit

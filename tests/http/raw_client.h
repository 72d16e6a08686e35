#pragma once
// A raw TCP client for the server tests (tests/http, tests/serve): send bytes exactly as written,
// read what comes back, split it into responses.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace imagefit::test {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

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

inline int status_of(const std::string& response) {
  return response.size() > 12 && response.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(response.substr(9, 3)) : 0;
}

inline std::string get_request(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

}  // namespace imagefit::test

#include "weights/download.h"

#include <httplib.h>  // CPPHTTPLIB_OPENSSL_SUPPORT comes from cpp-httplib's pkg-config cflags
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/progress.h"

#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#error "imagefit_weights needs cpp-httplib with OpenSSL support (PkgConfig::HTTPLIB provides the define)"
#endif

namespace imagefit {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------------
// sha256

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) throw Error("OpenSSL: cannot start a sha256");
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(const void* data, std::size_t n) {
  if (n && EVP_DigestUpdate(ctx_, data, n) != 1) throw Error("OpenSSL: sha256 update failed");
}

std::string Sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, md, &len) != 1) throw Error("OpenSSL: sha256 final failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string sha256_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path.string() + " to compute its sha256");
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw Error("read error in " + path.string() + " while computing its sha256");
  return h.hex_digest();
}

namespace {

// ---------------------------------------------------------------------------------------------------
// URLs

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // as written (IPv6 literals keep their brackets)
  int port = 0;
  std::string target;  // path + query, starts with '/'

  std::string origin() const { return scheme + "://" + host + ":" + std::to_string(port); }
  std::string str() const {
    const bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
    return scheme + "://" + host + (default_port ? "" : ":" + std::to_string(port)) + target;
  }
};

Url parse_url(const std::string& text) {
  Url u;
  const auto sep = text.find("://");
  if (sep == std::string::npos) throw Error("'" + text + "' is not a URL (expected https://host/path)");
  u.scheme = text.substr(0, sep);
  std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (u.scheme != "http" && u.scheme != "https")
    throw Error("'" + text + "': only http:// and https:// URLs can be downloaded");
  const auto rest = text.substr(sep + 3);
  const auto slash = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!u.target.empty() && u.target[0] != '/') u.target = "/" + u.target;
  if (const auto hash = u.target.find('#'); hash != std::string::npos) u.target.erase(hash);
  if (const auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);  // no credentials
  u.port = u.scheme == "https" ? 443 : 80;
  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) throw Error("'" + text + "': bad IPv6 address");
    u.host = authority.substr(0, close + 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') port_text = authority.substr(close + 2);
  } else {
    const auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) throw Error("'" + text + "': no host name");
  if (!port_text.empty()) {
    char* end = nullptr;
    const long p = std::strtol(port_text.c_str(), &end, 10);
    if (*end || p <= 0 || p > 65535) throw Error("'" + text + "': bad port '" + port_text + "'");
    u.port = static_cast<int>(p);
  }
  return u;
}

// A redirect's Location, resolved against the URL that answered.
Url resolve_location(const Url& base, const std::string& location) {
  if (location.find("://") != std::string::npos) return parse_url(location);
  if (location.rfind("//", 0) == 0) return parse_url(base.scheme + ":" + location);
  Url u = base;
  if (!location.empty() && location[0] == '/') {
    u.target = location;
  } else {
    std::string dir = base.target.substr(0, base.target.find('?'));
    dir = dir.substr(0, dir.rfind('/') + 1);
    u.target = dir + location;
  }
  return u;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]";
}

// $https_proxy / $http_proxy (either case), unless $no_proxy lists the host (suffix match) or it is local.
std::optional<Url> proxy_for(const Url& target) {
  if (is_loopback(target.host)) return std::nullopt;
  std::string no_proxy = env("no_proxy");
  if (no_proxy.empty()) no_proxy = env("NO_PROXY");
  std::stringstream list(no_proxy);
  for (std::string item; std::getline(list, item, ',');) {
    item.erase(std::remove_if(item.begin(), item.end(), [](unsigned char c) { return std::isspace(c); }), item.end());
    if (item.empty()) continue;
    if (item == "*") return std::nullopt;
    if (item[0] == '.') item.erase(0, 1);
    const std::string& h = target.host;
    const bool subdomain = h.size() > item.size() && h.compare(h.size() - item.size(), item.size(), item) == 0 &&
                           h[h.size() - item.size() - 1] == '.';
    if (h == item || subdomain) return std::nullopt;
  }
  std::string proxy = target.scheme == "https" ? env("https_proxy") : env("http_proxy");
  if (proxy.empty()) proxy = target.scheme == "https" ? env("HTTPS_PROXY") : env("HTTP_PROXY");
  if (proxy.empty()) return std::nullopt;
  if (proxy.find("://") == std::string::npos) proxy = "http://" + proxy;
  return parse_url(proxy);
}

// ---------------------------------------------------------------------------------------------------
// Progress: a redrawn bar on a terminal, a line every few seconds otherwise (logs stay readable).

class ByteProgress {
 public:
  ByteProgress(std::string label, std::FILE* out, bool enabled)
      : label_(std::move(label)), out_(out), enabled_(enabled && out), tty_(enabled_ && ProgressBar::is_terminal(out)) {
    start_ = last_ = std::chrono::steady_clock::now();
  }

  void set_total(std::int64_t total) { total_ = total; }

  void update(std::int64_t done) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    const auto interval = tty_ ? std::chrono::milliseconds(150) : std::chrono::milliseconds(10000);
    if (now - last_ < interval) return;
    last_ = now;
    draw(done);
  }

  void finish(std::int64_t done, const std::string& suffix) {
    if (!enabled_) return;
    if (tty_) std::fprintf(out_, "\r\033[K");
    const double s = seconds();
    std::fprintf(out_, "%s: %s in %s (%s/s)%s%s\n", label_.c_str(), format_bytes(done).c_str(),
                 format_duration(s).c_str(), format_bytes(s > 0 ? static_cast<std::int64_t>(done / s) : done).c_str(),
                 suffix.empty() ? "" : " ", suffix.c_str());
    std::fflush(out_);
  }

  // Clears a half-drawn bar before an error is printed.
  void abandon() {
    if (enabled_ && tty_) {
      std::fprintf(out_, "\r\033[K");
      std::fflush(out_);
    }
  }

  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  void draw(std::int64_t done) {
    const double s = seconds();
    const double rate = s > 0 ? done / s : 0;
    std::string line = label_ + " ";
    if (total_ > 0) {
      const double frac = std::min(1.0, double(done) / double(total_));
      const int width = 24;
      const int filled = static_cast<int>(frac * width);
      char pct[16];
      std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(frac * 100));
      line += "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] " + pct + " " +
              format_bytes(done) + "/" + format_bytes(total_);
      if (rate > 0) line += " " + format_bytes(static_cast<std::int64_t>(rate)) + "/s ETA " +
                            format_duration((total_ - done) / rate);
    } else {
      line += format_bytes(done);
      if (rate > 0) line += " " + format_bytes(static_cast<std::int64_t>(rate)) + "/s";
    }
    if (tty_)
      std::fprintf(out_, "\r\033[K%s", line.c_str());
    else
      std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
  }

  std::string label_;
  std::FILE* out_;
  bool enabled_, tty_;
  std::int64_t total_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
};

// ---------------------------------------------------------------------------------------------------
// The temporary file: removed unless committed.

class PartialFile {
 public:
  explicit PartialFile(const fs::path& destination) {
    std::random_device rd;
    std::ostringstream name;
    name << "." << destination.filename().string() << ".part-" << ::getpid() << "-" << std::hex << rd();
    path_ = destination.parent_path() / name.str();
    file_ = std::fopen(path_.c_str(), "wb");
    if (!file_)
      throw Error("cannot write in the weights folder " + destination.parent_path().string() + ": " +
                  std::strerror(errno));
  }
  ~PartialFile() {
    if (file_) std::fclose(file_);
    if (!committed_) {
      std::error_code ec;
      fs::remove(path_, ec);
    }
  }
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  bool write(const char* data, std::size_t n) { return std::fwrite(data, 1, n, file_) == n; }
  // Truncates (a redirect's or a retried response's bytes must not stay).
  void restart() {
    std::fclose(file_);
    file_ = std::fopen(path_.c_str(), "wb");
    if (!file_) throw Error("cannot rewrite " + path_.string() + ": " + std::strerror(errno));
  }
  // Flushes to disk and renames over `destination` (atomic on one file system).
  void commit(const fs::path& destination) {
    const bool ok = std::fflush(file_) == 0 && ::fsync(fileno(file_)) == 0;
    const int err = errno;
    std::fclose(file_);
    file_ = nullptr;
    if (!ok) throw Error("cannot write " + destination.string() + ": " + std::strerror(err));
    std::error_code ec;
    fs::rename(path_, destination, ec);
    if (ec) throw Error("cannot move the download into place at " + destination.string() + ": " + ec.message());
    committed_ = true;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// What the first bytes say the file is.
std::string describe_start(const std::string& head) {
  std::string text;
  for (char c : head.substr(0, 40)) text += std::isprint(static_cast<unsigned char>(c)) ? c : '.';
  return "'" + text + "'";
}

bool has_format(const std::string& head, const std::string& format) {
  if (format == "hdf5") return head.size() >= 8 && head.compare(0, 8, std::string("\x89HDF\r\n\x1a\n", 8)) == 0;
  if (format == "torch")
    return head.size() >= 2 && ((head[0] == 'P' && head[1] == 'K') || static_cast<unsigned char>(head[0]) == 0x80);
  return true;
}

std::string offline_help(const std::string& url, const fs::path& destination) {
  return "This machine seems to be offline, or cannot reach the server. To install the file by hand, download\n  " +
         url + "\non a machine with internet access and copy it to\n  " + destination.string() +
         "\n(or set IMAGEFIT_WEIGHTS_URL_BASE, or pass --url, to fetch it from a mirror).";
}

std::string tls_problem(httplib::Client& client) {
  const long v = client.get_openssl_verify_result();
  if (v == X509_V_OK) return "";
  return std::string(" (certificate: ") + X509_verify_cert_error_string(v) + ")";
}

}  // namespace

DownloadResult download_file(const DownloadRequest& request) {
  if (request.destination.empty() || request.destination.filename().empty())
    throw Error("download of " + request.url + ": no destination file given");
  Url url = parse_url(request.url);
  const fs::path dir = request.destination.parent_path().empty() ? fs::path(".") : request.destination.parent_path();
  {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error("cannot create the weights folder " + dir.string() + ": " + ec.message());
  }
  const fs::path destination = dir / request.destination.filename();
  const std::string label = request.label.empty() ? destination.filename().string() : request.label;

  PartialFile part(destination);
  ByteProgress progress(label, request.progress_out, request.show_progress);

  for (int hop = 0;; ++hop) {
    if (hop > request.max_redirects)
      throw Error("download of " + request.url + ": more than " + std::to_string(request.max_redirects) +
                  " redirects (last: " + url.str() + ")");
    httplib::Client client(url.origin());
    client.set_follow_location(false);  // followed below, so errors can name the URL that failed
    client.set_url_encode(false);       // URLs (and Location headers) are already encoded
    client.set_connection_timeout(request.connect_timeout_s, 0);
    client.set_read_timeout(request.read_timeout_s, 0);
    client.set_keep_alive(false);
    if (url.scheme == "https") {
      client.enable_server_certificate_verification(request.verify_tls);
      if (!request.ca_cert_file.empty()) client.set_ca_cert_path(request.ca_cert_file);
    }
    if (auto proxy = proxy_for(url)) {
      std::string host = proxy->host;
      if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
      client.set_proxy(host, proxy->port);
    }

    // Filled by the response handler, read by the receiver and after the request.
    int status = 0;
    std::string reason, location, content_encoding;
    std::int64_t content_length = -1;
    std::int64_t received = 0;
    std::string head;  // first bytes, to check the format
    bool write_failed = false, stopped = false, wrong_format = false, too_big = false;
    Sha256 hasher;
    part.restart();

    const httplib::Headers headers = {{"Accept-Encoding", "identity"}, {"User-Agent", "imagefit/0.1"}};
    auto result = client.Get(
        url.target, headers,
        [&](const httplib::Response& r) {
          status = r.status;
          reason = r.reason;
          location = r.get_header_value("Location");
          content_encoding = r.get_header_value("Content-Encoding");
          if (r.has_header("Content-Length")) {
            try {
              content_length = std::stoll(r.get_header_value("Content-Length"));
            } catch (const std::exception&) {
              content_length = -1;
            }
          }
          if (status != 200) return false;  // redirects and errors: no body wanted
          progress.set_total(content_length > 0 ? content_length : request.expected_size);
          return true;
        },
        [&](const char* data, std::size_t n) {
          if (request.should_stop && request.should_stop()) {
            stopped = true;
            return false;
          }
          if (head.size() < 8) {
            head.append(data, std::min(n, 8 - head.size()));
            if (head.size() >= 8 && !has_format(head, request.expected_format)) {
              wrong_format = true;
              return false;
            }
          }
          if (!part.write(data, n)) {
            write_failed = true;
            return false;
          }
          hasher.update(data, n);
          received += static_cast<std::int64_t>(n);
          if (request.expected_size > 0 && received > request.expected_size) {
            too_big = true;
            return false;
          }
          progress.update(received);
          return true;
        });

    const std::string where = url.str();
    auto fail = [&](const std::string& message) {
      progress.abandon();
      throw Error(message);
    };
    if (stopped) fail("download of " + where + " stopped; the partial file was removed");
    if (write_failed)
      fail("cannot write " + part.path().string() + " (disk full?): " + std::strerror(errno));
    if (wrong_format)
      fail("download of " + where + ": the server sent something that is not a " +
           (request.expected_format == "hdf5" ? std::string("Keras .h5 (HDF5)") : std::string("torchvision .pth")) +
           " file (it starts with " + describe_start(head) + "); nothing was saved");
    if (too_big)
      fail("download of " + where + ": the server sends more than the expected " +
           std::to_string(request.expected_size) + " bytes; nothing was saved");

    if (status >= 300 && status < 400 && status != 304) {
      if (location.empty()) fail("download of " + where + ": HTTP " + std::to_string(status) + " without a Location");
      url = resolve_location(url, location);
      continue;
    }
    if (status > 0 && status != 200) {
      std::string msg = "download of " + where + " failed: HTTP " + std::to_string(status) +
                        (reason.empty() ? "" : " " + reason);
      if (status == 404) msg += " (no file at this address: check the URL or the mirror)";
      if (status == 401 || status == 403) msg += " (the server refuses access to this file)";
      if (status >= 500) msg += " (a server problem: try again later)";
      fail(msg);
    }
    if (!result || status == 0) {
      const auto err = result.error();
      switch (err) {
        case httplib::Error::Connection:
        case httplib::Error::ConnectionTimeout:
        case httplib::Error::BindIPAddress:
          fail("cannot connect to " + url.host + ":" + std::to_string(url.port) + " to download " + where + " (" +
               httplib::to_string(err) + ").\n" + offline_help(request.url, destination));
          break;
        case httplib::Error::SSLConnection:
        case httplib::Error::SSLServerVerification:
        case httplib::Error::SSLLoadingCerts:
          fail("secure connection to " + url.host + " failed while downloading " + where + ": " +
               httplib::to_string(err) + tls_problem(client) +
               ". A proxy or firewall that intercepts HTTPS, or a wrong system clock, can cause this.");
          break;
        default:
          if (status == 200 && content_length >= 0)
            fail("download of " + where + " was cut off after " + std::to_string(received) + " of " +
                 std::to_string(content_length) + " bytes (" + httplib::to_string(err) +
                 "); nothing was saved. Try again.");
          fail("download of " + where + " failed after " + std::to_string(received) + " bytes: " +
               httplib::to_string(err) + "; nothing was saved. Try again.");
      }
    }

    // A complete 200 response: check it before it may replace anything.
    if (content_length >= 0 && content_encoding.empty() && received != content_length)
      fail("download of " + where + " was cut off: got " + std::to_string(received) + " of " +
           std::to_string(content_length) + " bytes; nothing was saved. Try again.");
    if (request.expected_size > 0 && received != request.expected_size)
      fail("download of " + where + ": got " + std::to_string(received) + " bytes, expected " +
           std::to_string(request.expected_size) + "; nothing was saved");
    if (!has_format(head, request.expected_format))
      fail("download of " + where + ": the file is too short to be a weights file (" + std::to_string(received) +
           " bytes); nothing was saved");
    const std::string actual = hasher.hex_digest();
    if (!request.expected_sha256.empty() && !sha256_matches(actual, request.expected_sha256))
      fail("download of " + where + ": sha256 mismatch: expected " + request.expected_sha256 +
           (request.expected_sha256.size() < 64 ? "..." : "") + ", got " + actual +
           ". The file is damaged or not the published one; nothing was saved.");
    part.commit(destination);
    progress.finish(received, request.expected_sha256.empty() ? "" : "sha256 ok");
    return {destination, where, actual, received, progress.seconds()};
  }
}

std::string resolve_weights_url(const WeightsEntry& entry, const std::string& url_override) {
  auto join = [&](std::string base) {
    if (base.empty() || base.back() != '/') base += '/';
    return base + entry.file_name;
  };
  if (!url_override.empty()) return url_override.back() == '/' ? join(url_override) : url_override;
  const std::string base = env("IMAGEFIT_WEIGHTS_URL_BASE");
  if (!base.empty()) return join(base);
  return entry.url;
}

FetchResult fetch_weights(const WeightsEntry& entry, const FetchOptions& options) {
  const fs::path destination = weights_cache_dir() / entry.file_name;
  FetchResult out;
  if (!options.force) {
    if (auto present = find_cached(entry)) {
      std::string actual;
      if (verify_cached_weights(entry, *present, &actual)) {
        out.path = *present;
        out.sha256 = actual;
        std::error_code ec;
        out.bytes = static_cast<std::int64_t>(fs::file_size(*present, ec));
        return out;
      }
      if (options.progress_out)
        std::fprintf(options.progress_out,
                     "%s: the copy at %s fails its sha256 (expected %s..., got %s); downloading again\n",
                     entry.name.c_str(), present->string().c_str(), entry.sha256.c_str(), actual.c_str());
    }
  }
  DownloadRequest req;
  req.url = resolve_weights_url(entry, options.url);
  req.destination = destination;
  req.expected_sha256 = entry.sha256;
  req.expected_size = entry.size_exact ? entry.size_bytes : 0;
  const std::string ext = fs::path(entry.file_name).extension().string();
  req.expected_format = ext == ".h5" ? "hdf5" : ext == ".pth" ? "torch" : "";
  req.label = entry.name;
  req.show_progress = options.show_progress;
  req.progress_out = options.progress_out;
  req.verify_tls = options.verify_tls;
  req.ca_cert_file = options.ca_cert_file;
  req.should_stop = options.should_stop;
  if (options.show_progress && options.progress_out) {
    std::fprintf(options.progress_out, "downloading %s%s from %s\n", entry.file_name.c_str(),
                 entry.size_bytes > 0 ? (" (" + std::string(entry.size_exact ? "" : "about ") +
                                         format_bytes(entry.size_bytes) + ")").c_str()
                                      : "",
                 req.url.c_str());
    std::fflush(options.progress_out);
  }
  const DownloadResult r = download_file(req);
  out.path = r.path;
  out.downloaded = true;
  out.url = r.final_url;
  out.sha256 = r.sha256;
  out.bytes = r.bytes;
  out.seconds = r.seconds;
  return out;
}

}  // namespace imagefit

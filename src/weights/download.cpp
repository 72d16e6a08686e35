#include "weights/download.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/progress.h"

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

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// The temporary file next to the destination (same file system, so the final rename is atomic): removed
// unless committed. A unique name, so two fetches of one file never write into each other.
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
  // Flushes to disk (a crash must not leave a renamed but empty file) and renames over `destination`.
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

// The first bytes, printable, for a message about a file that is not what it should be.
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

long kib(std::int64_t bytes) { return static_cast<long>((bytes + 1023) / 1024); }

// What the curl callbacks share with download_file.
struct Transfer {
  Transfer(const DownloadRequest& r, const std::string& l, PartialFile& p) : request(r), label(l), part(p) {}
  const DownloadRequest& request;
  const std::string& label;
  PartialFile& part;
  Sha256 hasher;
  std::string head;  // the first 8 bytes, to check the format before saving a login page as weights
  std::int64_t received = 0;
  bool write_failed = false, wrong_format = false, too_big = false, stopped = false;
  int write_errno = 0;  // curl may change errno before download_file reports it
  std::optional<ProgressBar> bar;  // in KiB; replaced once the server announces the size
  long bar_total = 0;
};

// Returning less than `n` makes curl stop with CURLE_WRITE_ERROR; the flag says why.
std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (t.head.size() < 8) {
    t.head.append(data, std::min(n, 8 - t.head.size()));
    if (t.head.size() >= 8 && !has_format(t.head, t.request.expected_format)) {
      t.wrong_format = true;
      return 0;
    }
  }
  if (t.request.expected_size > 0 && t.received + static_cast<std::int64_t>(n) > t.request.expected_size) {
    t.too_big = true;
    return 0;
  }
  if (!t.part.write(data, n)) {
    t.write_failed = true;
    t.write_errno = errno;
    return 0;
  }
  t.hasher.update(data, n);
  t.received += static_cast<std::int64_t>(n);
  return n;
}

// Called about once a second even while no data arrives, so Ctrl-C also ends a stalled transfer.
int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto& t = *static_cast<Transfer*>(user);
  if (t.request.should_stop && t.request.should_stop()) {
    t.stopped = true;
    return 1;  // curl ends the transfer: CURLE_ABORTED_BY_CALLBACK
  }
  const long total_kib = kib(total > 0 ? total : t.request.expected_size);
  if (t.bar && total_kib > 0) {
    if (total_kib != t.bar_total) t.bar.emplace(t.label, t.bar_total = total_kib, t.request.progress_out, "KiB");
    t.bar->update(kib(now), format_bytes(now));
  }
  return 0;
}

}  // namespace

DownloadResult download_file(const DownloadRequest& request) {
  const std::string& url = request.url;
  if (request.destination.empty() || request.destination.filename().empty())
    throw Error("download of " + url + ": no destination file given");
  const auto sep = url.find("://");
  if (sep == std::string::npos) throw Error("'" + url + "' is not a URL (expected https://host/path)");
  std::string scheme = url.substr(0, sep);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme != "http" && scheme != "https")
    throw Error("'" + url + "': only http:// and https:// URLs can be downloaded");

  const fs::path dir = request.destination.parent_path().empty() ? fs::path(".") : request.destination.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create the weights folder " + dir.string() + ": " + ec.message());
  const fs::path destination = dir / request.destination.filename();
  const std::string label = request.label.empty() ? destination.filename().string() : request.label;

  PartialFile part(destination);
  Transfer t{request, label, part};
  if (request.show_progress && request.progress_out)
    t.bar.emplace(label, t.bar_total = kib(request.expected_size), request.progress_out, "KiB");

  static const CURLcode global_init = curl_global_init(CURL_GLOBAL_DEFAULT);  // once, before any handle
  const std::unique_ptr<CURL, void (*)(CURL*)> handle(curl_easy_init(), curl_easy_cleanup);
  if (global_init != CURLE_OK || !handle) throw Error("download of " + url + ": cannot start libcurl");
  CURL* c = handle.get();
  char curl_message[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_message);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "imagefit/0.1");
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");  // a redirect must not reach file:// or ftp://
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(request.max_redirects));
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);  // HTTP >= 400 is an error; an error page is never saved
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(request.connect_timeout_s));
  // No overall timeout (a large file on a slow line is fine), but under 1 byte/s that long is a stall.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(request.stall_timeout_s));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, request.verify_tls ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, request.verify_tls ? 2L : 0L);
  if (!request.ca_cert_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, request.ca_cert_file.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in a threaded program; Ctrl-C comes via should_stop
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  // Proxies: libcurl reads http_proxy, https_proxy, all_proxy and no_proxy itself, credentials included.
  const CURLcode rc = curl_easy_perform(c);

  char* effective = nullptr;
  long status = 0;
  curl_off_t announced = -1, connect_us = 0, total_us = 0;
  curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &effective);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
  curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect_us);
  curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &total_us);
  const std::string where = effective ? effective : url;
  const std::string got = std::to_string(t.received) + " bytes";
  auto fail = [&](const std::string& problem) {
    if (t.bar && ProgressBar::is_terminal(request.progress_out)) t.bar->finish("failed");  // clears a drawn bar
    throw Error("download of " + url + (where != url ? " (redirected to " + where + ")" : "") + ": " + problem);
  };

  if (t.stopped) fail("stopped (interrupted); the partial file was removed");
  if (t.write_failed) fail("cannot write " + part.path().string() + " (disk full?): " + std::strerror(t.write_errno));
  if (t.wrong_format)
    fail("the server sent something that is not a " +
         std::string(request.expected_format == "hdf5" ? "Keras .h5 (HDF5)" : "torchvision .pth") +
         " file (it starts with " + describe_start(t.head) + "); nothing was saved");
  if (t.too_big)
    fail("the server sends more than the expected " + std::to_string(request.expected_size) +
         " bytes; nothing was saved");
  if (rc == CURLE_HTTP_RETURNED_ERROR || (rc == CURLE_OK && status / 100 != 2)) {
    std::string msg = "HTTP " + std::to_string(status);
    if (status == 404) msg += " (no file at this address: check the URL or the mirror)";
    if (status == 401 || status == 403) msg += " (the server refuses access to this file)";
    if (status == 407) msg += " (the proxy wants credentials: http_proxy=http://user:password@host:port)";
    if (status >= 500) msg += " (a server problem: try again later)";
    fail(msg);
  }
  switch (rc) {
    case CURLE_OK:
      break;
    case CURLE_TOO_MANY_REDIRECTS:
      fail("more than " + std::to_string(request.max_redirects) + " redirects");
      break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      fail(std::string(curl_message) + ".\n" + offline_help(url, destination));
      break;
    case CURLE_OPERATION_TIMEDOUT:
      if (connect_us == 0) fail(std::string(curl_message) + ".\n" + offline_help(url, destination));
      fail("the server stalled: no data for " + std::to_string(request.stall_timeout_s) + " s after " + got +
           "; nothing was saved. Try again.");
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      fail("secure connection failed: " + std::string(curl_message) +
           ". A proxy or firewall that intercepts HTTPS (see --ca-cert), or a wrong system clock, can cause this.");
      break;
    case CURLE_PARTIAL_FILE:
      fail("cut off after " + std::to_string(t.received) + " of " + std::to_string(announced) +
           " bytes; nothing was saved. Try again.");
      break;
    default:
      fail(std::string(*curl_message ? curl_message : curl_easy_strerror(rc)) + " after " + got +
           "; nothing was saved. Try again.");
  }

  // A complete response: check it before it may replace anything.
  if (request.expected_size > 0 && t.received != request.expected_size)
    fail("got " + got + ", expected " + std::to_string(request.expected_size) + "; nothing was saved");
  if (!has_format(t.head, request.expected_format))
    fail("the file is too short to be a weights file (" + got + "); nothing was saved");
  const std::string actual = t.hasher.hex_digest();
  if (!request.expected_sha256.empty() && !sha256_matches(actual, request.expected_sha256))
    fail("sha256 mismatch: expected " + request.expected_sha256 + (request.expected_sha256.size() < 64 ? "..." : "") +
         ", got " + actual + ". The file is damaged or not the published one; nothing was saved.");
  part.commit(destination);
  const double seconds = static_cast<double>(total_us) / 1e6;
  if (t.bar)
    t.bar->finish(format_bytes(t.received) + ", " +
                  format_bytes(static_cast<std::int64_t>(seconds > 0 ? t.received / seconds : 0)) + "/s" +
                  (request.expected_sha256.empty() ? "" : ", sha256 ok"));
  return {destination, where, actual, t.received, seconds};
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

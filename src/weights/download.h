#pragma once
// Downloading weights files over HTTPS (or HTTP) with libcurl: streamed to a temporary file next to the
// destination, hashed (sha256) while streaming, renamed into place only when complete and matching.
// Proxies come from the environment as for curl (http_proxy, https_proxy, all_proxy, no_proxy; credentials
// in the proxy URL). No LibTorch, OpenSSL or curl in this header.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

#include "weights/catalog.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace imagefit {

// Incremental sha256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t n);
  std::string hex_digest();  // lower-case, 64 characters; ends the computation

 private:
  evp_md_ctx_st* ctx_;
};

std::string sha256_file(const std::filesystem::path& path);

struct DownloadRequest {
  std::string url;                    // http:// or https://
  std::filesystem::path destination;  // final path; its folder is created if needed
  std::string expected_sha256;        // full or prefix; "" = not checked (the actual hash is still reported)
  std::int64_t expected_size = 0;     // exact size in bytes when known (0: unknown)
  std::string expected_format;        // "hdf5", "torch" (zip or legacy pickle) or "": what the file must start like
  std::string label;                  // progress line label (default: the destination's file name)
  bool show_progress = true;
  std::FILE* progress_out = stderr;
  bool verify_tls = true;    // certificate verification; turned off only by tests that ask for it
  std::string ca_cert_file;  // trust only this CA bundle instead of the system's (a test's self-signed certificate)
  int max_redirects = 10;    // more is an error (a redirect loop)
  int connect_timeout_s = 20;
  int stall_timeout_s = 60;  // under 1 byte/s for this long: an error (a stalled server), not a hang
  std::function<bool()> should_stop;  // polled at least once a second (Ctrl-C): stops and removes the partial file
};

struct DownloadResult {
  std::filesystem::path path;
  std::string final_url;  // after redirects
  std::string sha256;     // full hash of what was written
  std::int64_t bytes = 0;
  double seconds = 0;
};

// Throws Error naming the URL and what went wrong: offline / unreachable (with how to place the file by
// hand), TLS, HTTP status, truncated transfer, wrong size, wrong hash (expected and actual), wrong file
// format. On any failure nothing is left at the destination or in its folder.
DownloadResult download_file(const DownloadRequest& request);

// The URL an entry is fetched from: `url_override` if given (a full URL, or a base ending in '/' to which
// the file name is appended), else $IMAGEFIT_WEIGHTS_URL_BASE + file name if set, else the entry's URL.
std::string resolve_weights_url(const WeightsEntry& entry, const std::string& url_override = "");

struct FetchOptions {
  std::string url;  // see resolve_weights_url
  bool force = false;  // download again even if a good copy is present
  bool show_progress = true;
  std::FILE* progress_out = stderr;
  bool verify_tls = true;
  std::string ca_cert_file;
  std::function<bool()> should_stop;
};

struct FetchResult {
  std::filesystem::path path;
  bool downloaded = false;  // false: a good copy was already present
  std::string url;          // where it came from (when downloaded)
  std::string sha256;       // when downloaded or verified
  std::int64_t bytes = 0;
  double seconds = 0;
};

// Makes the entry's file present in the weights cache (downloading it when missing, when the present
// copy fails its hash, or with `force`) and returns where it is.
FetchResult fetch_weights(const WeightsEntry& entry, const FetchOptions& options = {});

}  // namespace imagefit

#pragma once
// `imagefit serve`: a web page and a JSON API over a trained model, on cpp-httplib.
//   GET  /             the page: drop or pick an image, see the top classes as bars
//   POST /api/predict  raw image body (image/*, application/octet-stream) or multipart/form-data
//                      (field "file" or "image"); ?top_k=N (default 5)
//                      → {"label","probability","top":[{"label","probability"}],"model","ms"}
//   GET  /api/model    classes, architecture, input size, normalization, training metrics
//   GET  /healthz      {"status":"ok"}
// Errors are JSON {"error": "..."} with a 4xx/5xx status. Requests are served concurrently by a
// thread pool; predictions that arrive together run as one batch (see serve/batcher.h).
// Torch- and httplib-free header.
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "serve/batcher.h"

namespace imagefit {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;           // 0: any free port (ModelServer::port() says which)
  int threads = 0;           // LibTorch compute threads; 0: all cores
  int http_threads = 0;      // connections open at once, each with its own thread; 0: 1024 (over it: 503)
  int max_body_mb = 20;      // larger uploads get 413
  int batch_window_ms = 5;   // how long the first request of a batch waits for others
  int max_batch = 16;        // most images in one forward pass
  std::string device = "cpu";  // cpu | cuda | cuda:N | auto
  std::string tta = "auto";    // test-time augmentation: auto (the model's choice) | on | off (train/tta.h)
  bool calibrated = true;      // softmax(logits / the model's temperature); false: T = 1
  std::string precision = "auto";  // auto | fp32 | bf16 (models/precision.h)
  int read_timeout_s = 10;   // a client that stops sending a body for this long is dropped
  int write_timeout_s = 10;  // a client that stops reading for this long is dropped
  int header_timeout_ms = 10000;   // the request line and headers, whole, within this (else 408)
  int body_timeout_ms = 120000;    // the whole body within this of its headers (20 MB at 1.4 Mbit/s)
  int shutdown_grace_ms = 2000;    // stop(): requests in flight get this long to finish their I/O
  int decode_memory_mb = 1024;     // images decoded (and waiting for their batch) at once, in MB
  int decode_wait_ms = 2000;       // a request over that budget waits this long, then gets 503
  bool log_requests = false;  // one line a request on stderr, control characters escaped
};

struct ServeStats {
  size_t connections_open = 0, connections_peak = 0;
  uint64_t connections_refused = 0;   // 503: over http_threads connections
  uint64_t connections_timed_out = 0; // header or body deadline
  uint64_t decode_budget_bytes = 0, decode_in_use_bytes = 0, decode_peak_bytes = 0;
  uint64_t decode_refused = 0;        // 503: the decode budget stayed full for decode_wait_ms
};

class ModelServer {
 public:
  // Opens the model and binds host:port. Throws Error naming the file or the address on failure.
  ModelServer(const std::string& model_path, const ServeOptions& options);
  ~ModelServer();
  ModelServer(const ModelServer&) = delete;
  ModelServer& operator=(const ModelServer&) = delete;

  int port() const;
  std::string url() const;  // http://host:port/
  // A one-line description: model file, architecture, classes, device.
  std::string description() const;

  // Serves until stop(); returns once the requests in flight were answered.
  void run();
  // Stops accepting connections and makes run() return after the requests in flight. Callable from
  // any thread (not from a signal handler), before or during run(), any number of times.
  void stop();

  BatchStats batch_stats() const;
  ServeStats stats() const;
  // The JSON of GET /api/model.
  const nlohmann::json& model_info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imagefit

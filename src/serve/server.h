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
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "serve/batcher.h"

namespace imagefit {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;           // 0: any free port (ModelServer::port() says which)
  int threads = 0;           // LibTorch compute threads; 0: all cores
  int http_threads = 0;      // connections handled at once; 0: max(32, 4 × cores)
  int max_body_mb = 20;      // larger uploads get 413
  int batch_window_ms = 5;   // how long the first request of a batch waits for others
  int max_batch = 16;        // most images in one forward pass
  std::string device = "cpu";  // cpu | cuda | cuda:N | auto
  std::string precision = "auto";  // auto | fp32 | bf16 (models/precision.h)
  int read_timeout_s = 10;   // a client that stops sending for this long is dropped
  int write_timeout_s = 10;  // a client that stops reading for this long is dropped
  bool log_requests = false;  // one line a request on stderr
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
  // The JSON of GET /api/model.
  const nlohmann::json& model_info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imagefit

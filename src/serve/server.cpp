#include "serve/server.h"

#include <ATen/Parallel.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/parallel.h"
#include "data/image_io.h"
#include "http/http_server.h"
#include "serve/page.h"

namespace imagefit {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* kJsonType = "application/json; charset=utf-8";

// A request the client got wrong (or one we cannot serve): becomes {"error": message} with `status`.
struct HttpError {
  int status;
  std::string message;
  int retry_after_s = 0;  // 503: when to try again
};

// Never throws on invalid UTF-8 (file names and decoder messages come from the client).
std::string json_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(json_text(body), kJsonType);
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "image/jpeg; charset=x" → "image/jpeg"
std::string media_type(const std::string& content_type) {
  std::string t = lower(content_type.substr(0, content_type.find(';')));
  const auto first = t.find_first_not_of(" \t"), last = t.find_last_not_of(" \t");
  return first == std::string::npos ? "" : t.substr(first, last - first + 1);
}

std::string megabytes(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / (1024.0 * 1024.0));
  return buf;
}

int parse_top_k(const std::string& text) {
  const bool digits = !text.empty() && text.size() <= 6 &&
                      std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
  const int k = digits ? std::stoi(text) : 0;
  if (k < 1) throw HttpError{400, "top_k must be a whole number of at least 1, got '" + text + "'"};
  return k;
}

std::string normalization_formula(const std::string& name) {
  if (name == "unit") return "x / 255";
  if (name == "symmetric") return "x / 127.5 - 1";
  if (name == "imagenet") return "(x / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]";
  if (name == "caffe") return "BGR order, x - [103.939, 116.779, 123.68]";
  return "";
}

// The methods each route answers (HEAD comes with GET); anything else on a known path is a 405.
const std::map<std::string, std::string>& route_methods() {
  static const std::map<std::string, std::string> routes = {
      {"/", "GET, HEAD"}, {"/index.html", "GET, HEAD"}, {"/api/predict", "POST"},
      {"/api/model", "GET, HEAD"}, {"/healthz", "GET, HEAD"}};
  return routes;
}

const char* kEndpoints = "GET /, POST /api/predict, GET /api/model, GET /healthz";

// Wraps a handler so that nothing it throws escapes into httplib: every failure is a JSON answer.
httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> handler) {
  return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    try {
      handler(req, res);
    } catch (const HttpError& e) {
      send_error(res, e.status, e.message);
      if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
    } catch (const std::exception& e) {
      send_error(res, 500, std::string("internal error: ") + e.what());
    } catch (...) {
      send_error(res, 500, "internal error");
    }
  };
}

// The same for handlers that read the body themselves.
httplib::Server::HandlerWithContentReader guarded_reader(
    std::function<void(const httplib::Request&, httplib::Response&, const httplib::ContentReader&)> handler) {
  return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& reader) {
    guarded([&](const httplib::Request& rq, httplib::Response& rs) { handler(rq, rs, reader); })(req, res);
  };
}

struct FormPart {
  std::string name, filename, content_type, content;
};

// A request body read through httplib's ContentReader with our own limit: httplib 0.11 enforces
// set_payload_max_length only for bodies with a Content-Length, not for chunked ones.
struct Body {
  enum Status { kOk, kTooLarge, kBroken } status = kOk;
  std::string raw;              // non-multipart body
  std::vector<FormPart> parts;  // multipart/form-data
};

Body read_body(const httplib::Request& req, const httplib::Response& res, const httplib::ContentReader& reader,
               size_t max_body, bool keep) {
  Body body;
  size_t total = 0;
  bool too_large = false;
  // Past the limit, bytes are read and dropped (so the answer reaches the client), up to a bound.
  const size_t drain_limit = max_body + std::max<size_t>(max_body, size_t(16) << 20);
  auto store = [&](std::string* dst, const char* data, size_t n) {
    total += n;
    if (total > max_body) too_large = true;
    if (!too_large && keep && dst) dst->append(data, n);
    return total <= drain_limit;
  };
  bool ok;
  if (req.is_multipart_form_data()) {
    ok = reader(
        [&](const httplib::MultipartFormData& header) {
          if (body.parts.size() >= 64) return false;
          body.parts.push_back({header.name, header.filename, header.content_type, ""});
          return true;
        },
        [&](const char* data, size_t n) { return store(body.parts.empty() ? nullptr : &body.parts.back().content, data, n); });
  } else {
    ok = reader([&](const char* data, size_t n) { return store(&body.raw, data, n); });
  }
  if (too_large || res.status == 413) body.status = Body::kTooLarge;
  else if (!ok) body.status = Body::kBroken;
  return body;
}

// The bytes of images being decoded, or decoded and waiting for their forward pass, at once: a
// request reserves its image's decode size (from the header) and waits for room, at most `wait`.
// An image larger than the whole budget reserves all of it, so it runs alone rather than never.
class DecodeBudget {
 public:
  explicit DecodeBudget(uint64_t capacity) : capacity_(std::max<uint64_t>(capacity, 1)) {}

  class Reservation {
   public:
    Reservation(DecodeBudget& budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    ~Reservation() { budget_.release(bytes_); }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;

   private:
    DecodeBudget& budget_;
    uint64_t bytes_;
  };

  // Null when the budget stayed full for `wait`.
  std::unique_ptr<Reservation> reserve(uint64_t bytes, std::chrono::milliseconds wait) {
    bytes = std::min(bytes, capacity_);
    std::unique_lock<std::mutex> lock(mutex_);
    if (!room_.wait_for(lock, wait, [&] { return used_ + bytes <= capacity_; })) {
      ++refused_;
      return nullptr;
    }
    used_ += bytes;
    peak_ = std::max(peak_, used_);
    return std::make_unique<Reservation>(*this, bytes);
  }

  void fill(ServeStats& s) const {
    std::lock_guard<std::mutex> lock(mutex_);
    s.decode_budget_bytes = capacity_;
    s.decode_in_use_bytes = used_;
    s.decode_peak_bytes = peak_;
    s.decode_refused = refused_;
  }

 private:
  void release(uint64_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      used_ -= bytes;
    }
    room_.notify_all();
  }

  const uint64_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable room_;
  uint64_t used_ = 0, peak_ = 0, refused_ = 0;
};

}  // namespace

struct ModelServer::Impl {
  ServeOptions options;
  std::string model_path, model_name;
  size_t max_body = 0;
  std::unique_ptr<Predictor> predictor;
  std::unique_ptr<PredictionBatcher> batcher;
  json info;
  std::unique_ptr<HardenedServer> http;
  std::unique_ptr<DecodeBudget> decode_budget;
  int port = 0;
  bool ran = false;

  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stop_requested = false;
  std::atomic<bool> listen_returned{false};

  void request_stop() {
    {
      std::lock_guard<std::mutex> lock(stop_mutex);
      stop_requested = true;
    }
    stop_cv.notify_all();
  }

  json make_info() const {
    const json& meta = predictor->metadata();
    const json net = meta.value("network", json::object());
    const std::string norm = net.value("normalization", "unknown");
    json j = {{"model", model_name},
              {"architecture", net.value("arch", "unknown")},
              {"classes", predictor->classes()},
              {"num_classes", predictor->classes().size()},
              {"input_size", {predictor->image_size(), predictor->image_size()}},
              {"input", {{"width", predictor->image_size()},
                         {"height", predictor->image_size()},
                         {"channels", 3},
                         {"color", "RGB"},
                         {"resize", net.value("resize", std::string("squash"))},
                         {"normalization", norm},
                         {"formula", normalization_formula(norm)}}},
              {"normalization", norm},
              {"temperature", predictor->temperature()},
              {"tta", predictor->tta()}};
    if (net.contains("alpha") && net["alpha"].is_number() && net["alpha"].get<double>() != 1.0) j["alpha"] = net["alpha"];
    json training = json::object();
    if (meta.contains("training") && meta["training"].is_object()) {
      for (const char* key : {"best_epoch", "epochs_run", "val_accuracy", "val_loss", "test_accuracy", "test_loss",
                              "test_images", "train_images", "validation_images", "strategy", "weights", "epochs",
                              "seconds"}) {
        if (meta["training"].contains(key) && !meta["training"][key].is_null()) training[key] = meta["training"][key];
      }
    }
    j["training"] = training;
    if (meta.contains("imagefit_version")) j["imagefit_version"] = meta["imagefit_version"];
    if (meta.contains("created")) j["created"] = meta["created"];
    j["serving"] = {{"device", options.device},
                    {"precision", predictor->precision()},
                    {"max_body_bytes", max_body},
                    {"batch_window_ms", options.batch_window_ms},
                    {"max_batch", options.max_batch}};
    return j;
  }

  std::string too_large_message() const {
    return "the upload is larger than the " + megabytes(max_body) + " limit (imagefit serve --max-body-mb)";
  }

  void handle_predict(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    const auto start = Clock::now();
    Body body = read_body(req, res, reader, max_body, true);
    if (body.status == Body::kTooLarge) throw HttpError{413, too_large_message()};
    if (body.status == Body::kBroken && HardenedServer::current_request_timed_out())
      throw HttpError{408, "the request body did not arrive in time (a pause over " +
                               std::to_string(options.read_timeout_s) + " s, or longer than " +
                               std::to_string(options.body_timeout_ms / 1000) + " s in all)"};
    if (body.status == Body::kBroken)
      throw HttpError{400, "could not read the request body (malformed multipart or chunked data, or the client "
                           "stopped sending)"};
    int top_k = 5;
    std::string name = "upload";
    const std::string* bytes = nullptr;
    if (req.is_multipart_form_data()) {
      auto field = [&](const std::string& key) -> const FormPart* {
        for (const auto& p : body.parts)
          if (p.name == key) return &p;
        return nullptr;
      };
      const FormPart* part = field("file");
      if (!part) part = field("image");
      if (!part) {
        std::string found;
        for (const auto& p : body.parts) found += (found.empty() ? "'" : ", '") + p.name + "'";
        throw HttpError{400, "the form has no 'file' or 'image' field" +
                                 (found.empty() ? std::string(" (it is empty)") : " (it has " + found + ")")};
      }
      if (!req.has_param("top_k") && field("top_k")) top_k = parse_top_k(field("top_k")->content);
      if (!part->filename.empty()) name = part->filename;
      if (part->content.empty()) throw HttpError{400, "the uploaded file '" + name + "' is empty"};
      bytes = &part->content;
    } else {
      const std::string type = media_type(req.get_header_value("Content-Type"));
      if (type == "application/x-www-form-urlencoded")
        throw HttpError{415, "Content-Type 'application/x-www-form-urlencoded' is not an image (curl's default for "
                             "--data-binary): add -H 'Content-Type: image/jpeg', or upload with -F file=@photo.jpg"};
      if (!type.empty() && type.rfind("image/", 0) != 0 && type != "application/octet-stream")
        throw HttpError{415, "Content-Type '" + type +
                                 "' is not an image: send the image bytes as image/* or application/octet-stream, "
                                 "or a multipart/form-data upload with a 'file' field"};
      if (body.raw.empty())
        throw HttpError{400, "empty request body: send the image file's bytes, e.g. "
                             "curl -H 'Content-Type: image/jpeg' --data-binary @photo.jpg URL/api/predict"};
      bytes = &body.raw;
    }
    if (req.has_param("top_k")) top_k = parse_top_k(req.get_param_value("top_k"));

    // The pixel limit and the decode budget, from the header, before a decoder allocates anything.
    const auto* data = reinterpret_cast<const unsigned char*>(bytes->data());
    ImageHeader header;
    try {
      header = read_image_header(data, bytes->size(), name);
      check_image_pixels(header, name);
    } catch (const ImageTooLargeError& e) {
      throw HttpError{413, e.what()};
    } catch (const Error& e) {
      throw HttpError{422, e.what()};
    }
    // Held until the forward pass took the image: the decoded picture waits in the batch queue.
    const auto reservation =
        decode_budget->reserve(decode_memory_bytes(header), std::chrono::milliseconds(options.decode_wait_ms));
    if (!reservation)
      throw HttpError{503,
                      "the server is busy decoding other large images (its " + megabytes(size_t(options.decode_memory_mb) << 20) +
                          " decode memory, imagefit serve --decode-memory-mb, is in use): retry in a moment",
                      1};
    cv::Mat rgb;
    try {
      rgb = decode_image_rgb(data, bytes->size(), name);
    } catch (const ImageTooLargeError& e) {
      throw HttpError{413, e.what()};
    } catch (const Error& e) {
      throw HttpError{422, e.what()};
    }
    const auto classes = batcher->classify(std::move(rgb));
    if (classes.empty()) throw HttpError{500, "the model returned no classes"};
    json top = json::array();
    for (size_t i = 0; i < classes.size() && i < size_t(top_k); ++i)
      top.push_back({{"label", classes[i].label}, {"probability", classes[i].probability}});
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    send_json(res, 200,
              {{"label", classes[0].label},
               {"probability", classes[0].probability},
               {"top", top},
               {"model", model_name},
               {"ms", std::round(ms * 100) / 100}});
  }

  // 404 for an unknown path; 405 (with Allow) for a known path and another method.
  static std::string not_found(const httplib::Request& req, httplib::Response& res, int& status) {
    auto route = route_methods().find(req.path);
    if (route == route_methods().end()) {
      status = 404;
      return "no such endpoint: " + req.method + " " + req.path + " (endpoints: " + kEndpoints + ")";
    }
    status = 405;
    res.set_header("Allow", route->second);
    return req.method + " is not allowed on " + req.path + " (use " + route->second + ")";
  }

  // Turns httplib's own error statuses (and unknown routes) into JSON; leaves our JSON answers alone.
  httplib::Server::HandlerResponse on_error(const httplib::Request& req, httplib::Response& res) {
    try {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      int status = res.status;
      std::string message;
      if (status == 404) {
        message = not_found(req, res, status);
      } else if (status == 413) {
        message = too_large_message();
      } else if (status == 400 && HardenedServer::current_request_timed_out()) {
        status = 408;
        message = "the request did not arrive in time (headers within " +
                  std::to_string(options.header_timeout_ms / 1000.0).substr(0, 4) + " s)";
        res.set_header("Connection", "close");
      } else if (status == 400) {
        message = "malformed request";
      } else if (status == 414) {
        message = "the request URI is too long";
      } else if (status == 500) {
        message = "internal error";
      } else {
        message = "request failed with HTTP status " + std::to_string(status);
      }
      send_error(res, status, message);
      return httplib::Server::HandlerResponse::Handled;
    } catch (...) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
  }

  void setup_routes() {
    auto page = [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy",
                     "default-src 'none'; img-src 'self' blob: data:; style-src 'unsafe-inline'; "
                     "script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                     "frame-ancestors 'none'");
      res.set_header("Cache-Control", "no-cache");
      res.set_content(index_html(), "text/html; charset=utf-8");
    };
    http->Get("/", guarded(page));
    http->Get("/index.html", guarded(page));
    http->Get("/healthz", guarded([](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, {{"status", "ok"}});
    }));
    http->Get("/api/model", guarded([this](const httplib::Request&, httplib::Response& res) { send_json(res, 200, info); }));
    http->Post("/api/predict", guarded_reader([this](const httplib::Request& req, httplib::Response& res,
                                                    const httplib::ContentReader& reader) {
                handle_predict(req, res, reader);
              }));
    // Every other request with a body lands here, so that no body is ever read without our limit.
    auto other = guarded_reader([this](const httplib::Request& req, httplib::Response& res,
                                       const httplib::ContentReader& reader) {
      Body body = read_body(req, res, reader, max_body, false);
      if (body.status == Body::kTooLarge) throw HttpError{413, too_large_message()};
      int status = 404;
      std::string message = not_found(req, res, status);
      throw HttpError{status, message};
    });
    http->Post(".*", other);
    http->Put(".*", other);
    http->Patch(".*", other);
    http->Delete(".*", other);
    // HTTP/1.1: a request with neither Content-Length nor Transfer-Encoding has no body. httplib 0.11
    // would read until the client closes (a curl -X POST without data would hang until the timeout).
    http->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      if (const auto* bad = HardenedServer::current_framing_error()) {
        send_error(res, bad->status, bad->message);
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding"))
        const_cast<httplib::Request&>(req).set_header("Content-Length", "0");  // the Request is not const in httplib
      return httplib::Server::HandlerResponse::Unhandled;
    });

    http->set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) { return on_error(req, res); }));
    http->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string message = "internal error";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        message += std::string(": ") + e.what();
      } catch (...) {
      }
      try {
        send_error(res, 500, message);
      } catch (...) {
        res.status = 500;
      }
    });
    // A body over the limit is refused before it is sent when the client asks first (curl does for > 1 MB).
    http->set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value<uint64_t>("Content-Length") <= max_body) return 100;
      send_error(res, 413, too_large_message());  // httplib 0.11 writes `res` as it is: set the status too
      // On this path httplib 0.11 writes no Content-Length for a body it did not pass through its range
      // handling: without one the client cannot tell where the JSON ends (it saw it only when it came
      // in the same packet as the headers).
      res.set_header("Content-Length", std::to_string(res.body.size()));
      return 413;
    });
    if (options.log_requests) {
      http->set_logger([](const httplib::Request& req, const httplib::Response& res) {
        // The path is percent-decoded: %0a would end the line and start a forged one.
        std::fprintf(stderr, "%s %s %s %d %zu\n", escape_for_log(req.remote_addr).c_str(),
                     escape_for_log(req.method).c_str(), escape_for_log(req.path).c_str(), res.status,
                     res.body.size());
      });
    }
  }
};

ModelServer::ModelServer(const std::string& model_path, const ServeOptions& options) : impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  I.options = options;
  if (options.port < 0 || options.port > 65535) throw Error("port must be between 0 and 65535, got " + std::to_string(options.port));
  if (options.max_body_mb < 1 || options.max_body_mb > 4096)
    throw Error("--max-body-mb must be between 1 and 4096, got " + std::to_string(options.max_body_mb));
  if (options.max_batch < 1) throw Error("--max-batch must be at least 1, got " + std::to_string(options.max_batch));
  if (options.batch_window_ms < 0 || options.batch_window_ms > 10000)
    throw Error("--batch-window-ms must be between 0 and 10000, got " + std::to_string(options.batch_window_ms));
  I.max_body = size_t(options.max_body_mb) * 1024 * 1024;
  I.model_path = model_path;
  I.model_name = std::filesystem::path(model_path).filename().string();

  at::set_num_threads(options.threads > 0 ? options.threads : hardware_threads());
  I.predictor = Predictor::open(model_path, options.device, options.precision, options.tta, options.calibrated);
  I.batcher = std::make_unique<PredictionBatcher>(*I.predictor, options.batch_window_ms, options.max_batch);
  I.info = I.make_info();

  if (options.header_timeout_ms < 100 || options.body_timeout_ms < 100 || options.shutdown_grace_ms < 0)
    throw Error("the header and body timeouts must be at least 100 ms");
  if (options.decode_memory_mb < 1 || options.decode_memory_mb > (1 << 20))
    throw Error("--decode-memory-mb must be between 1 and 1048576, got " + std::to_string(options.decode_memory_mb));
  I.decode_budget = std::make_unique<DecodeBudget>(uint64_t(options.decode_memory_mb) << 20);
  ConnectionLimits limits;
  limits.max_connections = options.http_threads > 0 ? size_t(options.http_threads) : 1024;
  limits.header_timeout_ms = options.header_timeout_ms;
  limits.body_timeout_ms = options.body_timeout_ms;
  limits.idle_read_timeout_ms = std::max(1, options.read_timeout_s) * 1000;
  limits.write_timeout_ms = std::max(1, options.write_timeout_s) * 1000;
  limits.keep_alive_timeout_ms = 5000;
  limits.shutdown_grace_ms = options.shutdown_grace_ms;
  I.http = std::make_unique<HardenedServer>(limits);
  I.http->set_payload_max_length(I.max_body);
  I.http->set_default_headers({{"X-Content-Type-Options", "nosniff"}, {"Server", "imagefit"}});
  // httplib's default is SO_REUSEPORT, with which a second server on the same port silently shares the
  // connections (maybe with another model). SO_REUSEADDR alone still allows a quick restart.
  // The callback also keeps the listening socket, to raise its backlog below.
  //
  // TCP_NODELAY: httplib 0.11 writes an answer's headers and its body in two send() calls. With Nagle's
  // algorithm on, the body waits until the client has ACKed the headers, and a client on a kept-alive
  // connection (browsers, wrk, HTTP libraries) delays that ACK by 40 ms or more: every request after
  // the first on a connection took ~40-60 ms instead of < 1 ms. Debian's compiled httplib has
  // CPPHTTPLIB_TCP_NODELAY false and offers no hook on accepted sockets, but Linux gives an accepted
  // socket the listening socket's TCP_NODELAY, so it is set here, on the listening socket (and through
  // set_tcp_nodelay, which does the same in httplib's own socket setup).
  auto listen_socket = std::make_shared<socket_t>(INVALID_SOCKET);
  I.http->set_tcp_nodelay(true);
  I.http->set_socket_options([listen_socket](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    *listen_socket = sock;
  });
  I.setup_routes();

  errno = 0;
  if (options.port == 0) {
    I.port = I.http->bind_to_any_port(options.host);
  } else {
    I.port = I.http->bind_to_port(options.host, options.port) ? options.port : -1;
  }
  if (I.port <= 0) {
    const std::string why = errno ? std::string(std::strerror(errno)) : "no usable address";
    throw Error("cannot listen on " + options.host + ":" + std::to_string(options.port) + " (" + why +
                "): is another server using the port, or is the host not an address of this machine? "
                "Choose another --port or --host");
  }
  // Debian's cpp-httplib is a compiled library that listens with a backlog of 5 (its
  // CPPHTTPLIB_LISTEN_BACKLOG is fixed when the library is built): a burst of clients connecting at
  // once overflows it, and under load some of them are dropped. Listening again on the bound socket
  // only sets the larger backlog.
  if (*listen_socket != INVALID_SOCKET) ::listen(*listen_socket, 1024);
}

ModelServer::~ModelServer() {
  try {
    if (!impl_->ran) {  // close the bound socket through httplib's own path
      stop();
      run();
    }
    impl_->batcher->stop();
  } catch (...) {
  }
}

int ModelServer::port() const { return impl_->port; }

std::string ModelServer::url() const {
  const std::string& h = impl_->options.host;
  const std::string host = h.find(':') != std::string::npos ? "[" + h + "]" : h;
  return "http://" + host + ":" + std::to_string(impl_->port) + "/";
}

std::string ModelServer::description() const {
  const auto& info = impl_->info;
  return impl_->model_name + " (" + info.value("architecture", "?") + ", " +
         std::to_string(impl_->predictor->classes().size()) + " classes, " +
         std::to_string(impl_->predictor->image_size()) + "x" + std::to_string(impl_->predictor->image_size()) +
         " input, device " + impl_->options.device + ", " + impl_->predictor->precision() +
         (impl_->predictor->tta() ? ", test-time augmentation" : "") + ")";
}

void ModelServer::run() {
  auto& I = *impl_;
  if (I.ran) throw Error("the server already ran");
  I.ran = true;
  // stop() may come before listen_after_bind() has started: this thread waits for the listen loop to
  // run before closing its socket, so no stop is lost.
  std::thread stopper([&I] {
    {
      std::unique_lock<std::mutex> lock(I.stop_mutex);
      I.stop_cv.wait(lock, [&] { return I.stop_requested; });
    }
    I.batcher->hurry();  // requests in flight need not wait for a batch window
    while (!I.http->is_running() && !I.listen_returned) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!I.listen_returned) I.http->stop();
  });
  const bool ok = I.http->listen_after_bind();  // returns after the worker threads finished their requests
  I.listen_returned = true;
  bool asked_to_stop;
  {
    std::lock_guard<std::mutex> lock(I.stop_mutex);
    asked_to_stop = I.stop_requested;
  }
  I.request_stop();
  stopper.join();
  I.batcher->stop();
  if (!ok && !asked_to_stop) throw Error("the server stopped accepting connections on " + url());
}

void ModelServer::stop() { impl_->request_stop(); }

BatchStats ModelServer::batch_stats() const { return impl_->batcher->stats(); }

ServeStats ModelServer::stats() const {
  ServeStats s;
  const ConnectionStats c = impl_->http->stats();
  s.connections_open = c.open;
  s.connections_peak = c.peak;
  s.connections_refused = c.refused;
  s.connections_timed_out = c.timed_out;
  impl_->decode_budget->fill(s);
  return s;
}

const nlohmann::json& ModelServer::model_info() const { return impl_->info; }

}  // namespace imagefit

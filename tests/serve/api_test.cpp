// The HTTP API of `imagefit serve`, in process: a real model file, a server on a free loopback port,
// httplib clients. Answers are compared with Predictor::predict on the same image.
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "data/image_io.h"
#include "eval/predictor.h"
#include "serve/server.h"
#include "serve_test_util.h"
#include "test_support.h"

namespace imagefit {
namespace {

using json = nlohmann::json;

// Sends raw bytes on a fresh connection and returns the first response (headers and body).
std::string raw_exchange(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    [[maybe_unused]] auto n = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[4096];
    ssize_t got;
    while ((got = ::recv(fd, buf, sizeof buf, 0)) > 0) {
      out.append(buf, size_t(got));
      const size_t head_end = out.find("\r\n\r\n");
      if (head_end == std::string::npos) continue;
      const size_t cl = out.find("Content-Length: ");
      const size_t length = cl < head_end ? std::stoul(out.substr(cl + 16)) : 0;
      if (out.size() >= head_end + 4 + length) break;
    }
  }
  ::close(fd);
  return out;
}

// A raw client that keeps one connection open and sends each request in one send() with TCP_NODELAY
// set: what it measures is the server's side of the connection, not a client's Nagle delay.
class KeepAliveConnection {
 public:
  explicit KeepAliveConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int yes = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~KeepAliveConnection() { ::close(fd_); }
  KeepAliveConnection(const KeepAliveConnection&) = delete;
  KeepAliveConnection& operator=(const KeepAliveConnection&) = delete;

  bool connected() const { return connected_; }

  // Sends one request and returns its whole response (headers and Content-Length body), or "" when
  // the server closed the connection or did not answer in time.
  std::string exchange(const std::string& request) {
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != ssize_t(request.size())) return "";
    char buf[4096];
    while (true) {
      const size_t head_end = pending_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const size_t cl = pending_.find("Content-Length: ");
        const size_t length = cl < head_end ? std::stoul(pending_.substr(cl + 16)) : 0;
        if (pending_.size() >= head_end + 4 + length) {
          std::string response = pending_.substr(0, head_end + 4 + length);
          pending_.erase(0, response.size());
          return response;
        }
      }
      const ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
      if (got <= 0) return "";
      pending_.append(buf, size_t(got));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;  // bytes received past the last response
};

struct Expected {
  std::string bytes;                 // encoded image
  std::string type;                  // its Content-Type
  std::vector<ClassScore> ranking;   // Predictor::predict on it, all classes
};

// One model file, one predictor to compute the expected answers, one server for most tests.
class ServeApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("imagefit-serve-test");
    model_path_ = (dir_->path() / "animals.imagefit").string();
    test::make_test_model(model_path_);
    reference_ = Predictor::open(model_path_).release();
    // Random weights: pick test images that get different labels, each with a clear winner (so that
    // batched and single forward passes rank them alike), from varied candidates.
    std::vector<Expected> candidates;
    std::vector<cv::Mat> decoded;
    for (int seed = 0; seed < 48; ++seed) {
      cv::Mat bgr = test::test_picture_bgr(seed);
      if (seed % 3 == 1) cv::randu(bgr, cv::Scalar::all(0), cv::Scalar::all(256));
      if (seed % 3 == 2) bgr = cv::Mat(80, 96, CV_8UC3, cv::Scalar((seed * 37) % 256, (seed * 71) % 256, (seed * 13) % 256));
      Expected e;
      e.bytes = test::encode(bgr, seed % 2 ? ".jpg" : ".png");
      e.type = seed % 2 ? "image/jpeg" : "image/png";
      decoded.push_back(decode_image_rgb({e.bytes.begin(), e.bytes.end()}, "reference"));
      candidates.push_back(e);
    }
    const auto rankings = reference_->predict(decoded, 0);
    std::set<std::string> labels;
    for (int pass = 0; pass < 2 && images_.size() < 6; ++pass) {
      for (size_t i = 0; i < candidates.size() && images_.size() < 6; ++i) {
        const auto& r = rankings[i];
        if (r[0].probability - r[1].probability < 1e-3) continue;
        if (pass == 0 && labels.count(r[0].label)) continue;  // first pass: one image a label
        if (pass == 1 && std::any_of(images_.begin(), images_.end(),
                                     [&](const Expected& e) { return e.bytes == candidates[i].bytes; }))
          continue;
        candidates[i].ranking = r;
        labels.insert(r[0].label);
        images_.push_back(candidates[i]);
      }
    }
    ServeOptions options;
    options.port = 0;
    options.threads = 2;
    options.max_body_mb = 2;
    options.batch_window_ms = 50;  // wide enough for the concurrent clients below to share batches
    server_ = new ModelServer(model_path_, options);
    thread_ = new std::thread([] { server_->run(); });
  }
  static void TearDownTestSuite() {
    server_->stop();
    thread_->join();
    delete thread_;
    delete server_;
    delete reference_;
    delete dir_;
  }

  static httplib::Client client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_connection_timeout(10);
    c.set_read_timeout(30);
    c.set_write_timeout(30);
    c.set_tcp_nodelay(true);  // httplib's client too writes a request's headers and body in two send()s
    return c;
  }

  // The status, the body as JSON (fails the test if it is not JSON), and the Content-Type.
  struct Answer {
    int status = 0;
    json body;
    std::string content_type;
  };
  static Answer answer(const httplib::Result& r) {
    Answer a;
    if (!r) {
      ADD_FAILURE() << "no response: " << httplib::to_string(r.error());
      return a;
    }
    a.status = r->status;
    a.content_type = r->get_header_value("Content-Type");
    try {
      a.body = json::parse(r->body);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "): " << r->body.substr(0, 300);
    }
    return a;
  }

  // Checks a prediction answer against the reference ranking.
  static void expect_prediction(const Answer& a, const Expected& e, size_t top_k) {
    ASSERT_EQ(a.status, 200) << a.body.dump();
    EXPECT_EQ(a.content_type, "application/json; charset=utf-8");
    ASSERT_TRUE(a.body.contains("top") && a.body["top"].is_array()) << a.body.dump();
    const auto& top = a.body["top"];
    ASSERT_EQ(top.size(), std::min(top_k, e.ranking.size())) << a.body.dump();
    EXPECT_EQ(a.body["label"], e.ranking[0].label);
    EXPECT_NEAR(a.body["probability"].get<double>(), e.ranking[0].probability, 1e-5);
    for (size_t i = 0; i < top.size(); ++i) {
      EXPECT_EQ(top[i]["label"], e.ranking[i].label) << i;
      EXPECT_NEAR(top[i]["probability"].get<double>(), e.ranking[i].probability, 1e-5) << i;
    }
    EXPECT_EQ(a.body["model"], "animals.imagefit");
    EXPECT_GE(a.body["ms"].get<double>(), 0.0);
  }

  static void expect_error(const Answer& a, int status, const std::string& mentions) {
    EXPECT_EQ(a.status, status) << a.body.dump();
    EXPECT_EQ(a.content_type, "application/json; charset=utf-8");
    ASSERT_TRUE(a.body.is_object() && a.body.contains("error") && a.body["error"].is_string()) << a.body.dump();
    EXPECT_NE(a.body["error"].get<std::string>().find(mentions), std::string::npos)
        << "error message should mention '" << mentions << "': " << a.body["error"];
  }

  static TempDir* dir_;
  static std::string model_path_;
  static Predictor* reference_;
  static std::vector<Expected> images_;
  static ModelServer* server_;
  static std::thread* thread_;
};
TempDir* ServeApi::dir_ = nullptr;
std::string ServeApi::model_path_;
Predictor* ServeApi::reference_ = nullptr;
std::vector<Expected> ServeApi::images_;
ModelServer* ServeApi::server_ = nullptr;
std::thread* ServeApi::thread_ = nullptr;

TEST_F(ServeApi, TheTestImagesDoNotAllGetTheSameLabel) {
  // Otherwise comparing labels would prove little.
  ASSERT_EQ(images_.size(), 6u);
  std::set<std::string> labels;
  for (const auto& e : images_) labels.insert(e.ranking[0].label);
  EXPECT_GE(labels.size(), 2u);
  EXPECT_GT(images_[0].ranking[0].probability, images_[0].ranking[1].probability + 1e-3);
}

TEST_F(ServeApi, RawBodyGivesTheSameAnswerAsThePredictor) {
  auto c = client();
  for (size_t i = 0; i < images_.size(); ++i) {
    const auto& e = images_[i];
    SCOPED_TRACE("image " + std::to_string(i));
    expect_prediction(answer(c.Post("/api/predict", e.bytes, e.type)), e, 5);
  }
  // application/octet-stream too, and a parameter on the content type.
  expect_prediction(answer(c.Post("/api/predict", images_[0].bytes, "application/octet-stream")), images_[0], 5);
  expect_prediction(answer(c.Post("/api/predict", images_[0].bytes, "image/png; name=x.png")), images_[0], 5);
}

TEST_F(ServeApi, TopKFromTheQuery) {
  auto c = client();
  const auto& e = images_[2];
  expect_prediction(answer(c.Post("/api/predict?top_k=2", e.bytes, e.type)), e, 2);
  expect_prediction(answer(c.Post("/api/predict?top_k=1", e.bytes, e.type)), e, 1);
  expect_prediction(answer(c.Post("/api/predict?top_k=100", e.bytes, e.type)), e, 7);  // all 7 classes
}

TEST_F(ServeApi, MultipartUploadWithFileOrImageField) {
  auto c = client();
  const auto& e = images_[1];
  httplib::MultipartFormDataItems file = {{"file", e.bytes, "photo.jpg", "image/jpeg"}};
  expect_prediction(answer(c.Post("/api/predict", file)), e, 5);
  httplib::MultipartFormDataItems image = {{"image", e.bytes, "photo.jpg", "image/jpeg"},
                                           {"top_k", "3", "", ""}};
  expect_prediction(answer(c.Post("/api/predict", image)), e, 3);
  // The query wins over the form field.
  expect_prediction(answer(c.Post("/api/predict?top_k=4", image)), e, 4);
}

TEST_F(ServeApi, ModelDescription) {
  auto c = client();
  Answer a = answer(c.Get("/api/model"));
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body["model"], "animals.imagefit");
  EXPECT_EQ(a.body["architecture"], "simple-cnn");
  EXPECT_EQ(a.body["classes"].get<std::vector<std::string>>(), test::test_classes());
  EXPECT_EQ(a.body["num_classes"], 7);
  EXPECT_EQ(a.body["input_size"], json::array({32, 32}));
  EXPECT_EQ(a.body["input"]["width"], 32);
  EXPECT_EQ(a.body["normalization"], "unit");
  EXPECT_EQ(a.body["input"]["formula"], "x / 255");
  EXPECT_EQ(a.body["input"]["resize"], "squash");
  EXPECT_DOUBLE_EQ(a.body["training"]["val_accuracy"].get<double>(), 0.875);
  EXPECT_DOUBLE_EQ(a.body["training"]["test_accuracy"].get<double>(), 0.8125);
  EXPECT_EQ(a.body["training"]["best_epoch"], 7);
  EXPECT_EQ(a.body["serving"]["max_body_bytes"], 2 * 1024 * 1024);
  EXPECT_EQ(a.body, server_->model_info());
}

TEST_F(ServeApi, HealthAndPage) {
  auto c = client();
  Answer h = answer(c.Get("/healthz"));
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, json({{"status", "ok"}}));

  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<title>"), std::string::npos);
  EXPECT_NE(page->body.find("/api/predict"), std::string::npos);
  EXPECT_NE(page->body.find("/api/model"), std::string::npos);
  // Self-contained: nothing loaded from elsewhere, and the browser is told so.
  for (const char* external : {"src=\"http", "href=\"http", "src='http", "href='http", "@import", "url(http"})
    EXPECT_EQ(page->body.find(external), std::string::npos) << external;
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
}

TEST_F(ServeApi, BodyTooLargeIs413) {
  auto c = client();
  const std::string big(3 * 1024 * 1024, 'x');
  expect_error(answer(c.Post("/api/predict", big, "image/jpeg")), 413, "2.0 MB limit");
  httplib::MultipartFormDataItems items = {{"file", big, "big.jpg", "image/jpeg"}};
  expect_error(answer(c.Post("/api/predict", items)), 413, "limit");
  // Under the limit, the size is fine and the decoder has its say.
  expect_error(answer(c.Post("/api/predict", std::string(1024 * 1024, 'x'), "image/jpeg")), 422, "cannot decode");
  // The connection is still usable afterwards.
  expect_prediction(answer(c.Post("/api/predict", images_[0].bytes, images_[0].type)), images_[0], 5);
  // A client that asks first (curl does above 1 MB) is refused before it sends the body.
  const std::string reply = raw_exchange(server_->port(),
                                         "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                                         "Content-Length: 30000000\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
  // With its length, so the client knows where the JSON ends (raw_exchange reads exactly that much).
  EXPECT_NE(reply.find("Content-Length: "), std::string::npos) << reply;
  EXPECT_NE(reply.find("{\"error\":\"the upload is larger than the 2.0 MB limit"), std::string::npos) << reply;
}

TEST_F(ServeApi, EmptyBodyOrMissingFileFieldIs400) {
  auto c = client();
  expect_error(answer(c.Post("/api/predict", "", "image/png")), 400, "empty request body");
  httplib::MultipartFormDataItems other = {{"picture", images_[0].bytes, "a.png", "image/png"}};
  expect_error(answer(c.Post("/api/predict", other)), 400, "no 'file' or 'image' field");
  httplib::MultipartFormDataItems empty = {{"file", "", "a.png", "image/png"}};
  expect_error(answer(c.Post("/api/predict", empty)), 400, "'a.png' is empty");
  for (const char* bad : {"0", "-3", "abc", "2.5", "99999999999"})
    expect_error(answer(c.Post(std::string("/api/predict?top_k=") + bad, images_[0].bytes, images_[0].type)), 400,
                 "top_k");
}

TEST_F(ServeApi, WrongContentTypeIs415) {
  auto c = client();
  expect_error(answer(c.Post("/api/predict", images_[0].bytes, "text/plain")), 415, "text/plain");
  expect_error(answer(c.Post("/api/predict", "{\"image\": 1}", "application/json")), 415, "not an image");
  // curl --data-binary's default type, small and above httplib's 8 KB form limit: a hint, not a 413.
  expect_error(answer(c.Post("/api/predict", std::string(100, 'x'), "application/x-www-form-urlencoded")), 415,
               "Content-Type");
  expect_error(answer(c.Post("/api/predict", std::string(20000, 'x'), "application/x-www-form-urlencoded")), 415,
               "Content-Type: image/jpeg");
}

TEST_F(ServeApi, UndecodableImageIs422WithTheDecodersMessage) {
  auto c = client();
  expect_error(answer(c.Post("/api/predict", "this is not an image", "image/jpeg")), 422, "cannot decode image");
  const std::string jpeg = test::encode(test::test_picture_bgr(1), ".jpg");
  expect_error(answer(c.Post("/api/predict", jpeg.substr(0, jpeg.size() / 2), "image/jpeg")), 422, "truncated JPEG");
  // The file name from a form upload is in the message.
  httplib::MultipartFormDataItems items = {{"file", "garbage", "holiday.png", "image/png"}};
  expect_error(answer(c.Post("/api/predict", items)), 422, "holiday.png");
  // A name that is not UTF-8 does not break the JSON answer.
  httplib::MultipartFormDataItems latin1 = {{"file", "garbage", "caf\xe9.png", "image/png"}};
  expect_error(answer(c.Post("/api/predict", latin1)), 422, "cannot decode");
}

TEST_F(ServeApi, UnknownRouteIs404AndWrongMethodIs405) {
  auto c = client();
  expect_error(answer(c.Get("/nope")), 404, "no such endpoint");
  expect_error(answer(c.Post("/api/nope", "x", "text/plain")), 404, "/api/nope");
  auto get_predict = c.Get("/api/predict");
  expect_error(answer(get_predict), 405, "use POST");
  ASSERT_TRUE(get_predict);
  EXPECT_EQ(get_predict->get_header_value("Allow"), "POST");
  expect_error(answer(c.Post("/healthz", "x", "text/plain")), 405, "POST is not allowed");
  expect_error(answer(c.Delete("/api/model")), 405, "DELETE");
  expect_error(answer(c.Put("/", "x", "text/plain")), 405, "GET");
}

TEST_F(ServeApi, TwentyConcurrentClientsAllGetTheirOwnAnswer) {
  constexpr int kClients = 20;
  const BatchStats before = server_->batch_stats();
  std::vector<Answer> answers(kClients);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto c = client();
      const auto& e = images_[size_t(i) % images_.size()];
      // Start together, so that requests arrive at the same time.
      ready.fetch_add(1);
      while (ready.load() < kClients) std::this_thread::yield();
      answers[size_t(i)] = answer(c.Post("/api/predict?top_k=7", e.bytes, e.type));
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) {
    SCOPED_TRACE("client " + std::to_string(i));
    expect_prediction(answers[size_t(i)], images_[size_t(i) % images_.size()], 7);
  }
  const BatchStats after = server_->batch_stats();
  EXPECT_EQ(after.images - before.images, uint64_t(kClients));
  // Requests that arrived together shared forward passes.
  EXPECT_LT(after.batches - before.batches, uint64_t(kClients));
  EXPECT_GE(after.largest, 2);
}

// A second server whose batches wait long, so requests are surely in flight when it is stopped.
TEST_F(ServeApi, StopAnswersTheRequestsInFlightThenRefusesNewOnes) {
  ServeOptions options;
  options.port = 0;
  options.threads = 2;
  options.batch_window_ms = 8000;  // far longer than the test: stop() must not wait for it
  options.max_batch = 64;
  ModelServer server(model_path_, options);
  const int port = server.port();
  std::thread runner([&] { server.run(); });

  constexpr int kClients = 6;
  std::vector<Answer> answers(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(30);
      answers[size_t(i)] = answer(c.Post("/api/predict", images_[size_t(i) % images_.size()].bytes, images_[size_t(i) % images_.size()].type));
    });
  }
  // Wait until every request is decoded and queued for its forward pass, then stop.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server.batch_stats().waiting < size_t(kClients) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(server.batch_stats().waiting, size_t(kClients)) << "requests did not arrive";
  const auto stop_time = std::chrono::steady_clock::now();
  server.stop();
  runner.join();
  const double stop_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_time).count();
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) {
    SCOPED_TRACE("client " + std::to_string(i));
    expect_prediction(answers[size_t(i)], images_[size_t(i) % images_.size()], 5);
  }
  EXPECT_LT(stop_seconds, 6.0) << "stop() waited for the batch window";
  // Nothing listens any more.
  httplib::Client late("127.0.0.1", port);
  late.set_connection_timeout(2);
  auto r = late.Get("/healthz");
  EXPECT_FALSE(r) << "the stopped server still answered";
}

// A client that keeps its connection open (browsers, wrk, every HTTP library) is answered as fast as
// one on a fresh connection. httplib writes an answer's headers and body in two send() calls: without
// TCP_NODELAY on the server's socket the body waits for the client's ACK of the headers, which a
// client on a reused connection delays (Linux: 40 ms at least), so each request took >= 40 ms and
// these 20 would take >= 800 ms. Without the stall they take a few ms; 400 ms is slack for a loaded
// machine. The series run on a server of its own without a batch window (the suite's waits 50 ms).
TEST_F(ServeApi, KeepAliveRequestsAreAnsweredWithoutADelayedAckStall) {
  ServeOptions options;
  options.port = 0;
  options.threads = 1;
  options.batch_window_ms = 0;
  ModelServer server(model_path_, options);
  std::thread runner([&] { server.run(); });
  const Expected& image = images_[0];
  const std::string health = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  const std::string predict = "POST /api/predict?top_k=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + image.type +
                              "\r\nContent-Length: " + std::to_string(image.bytes.size()) + "\r\n\r\n" + image.bytes;
  constexpr int kRequests = 20;
  auto body_of = [](const std::string& response) {
    const size_t head_end = response.find("\r\n\r\n");
    return head_end == std::string::npos ? std::string() : response.substr(head_end + 4);
  };
  // Milliseconds for kRequests of `request` on `conn`, each answered with 200 and checked by `check`.
  auto series = [&](KeepAliveConnection& conn, const std::string& request, auto check) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRequests; ++i) {
      const std::string response = conn.exchange(request);
      if (response.rfind("HTTP/1.1 200", 0) != 0) {
        ADD_FAILURE() << "request " << i << " on the kept-alive connection: "
                      << (response.empty() ? "no answer (closed?)" : response.substr(0, 300));
        return -1.0;
      }
      check(json::parse(body_of(response)));
    }
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  {
    KeepAliveConnection conn(server.port());
    ASSERT_TRUE(conn.connected());
    // The first exchanges of a connection are ACKed at once (TCP quick-ACK) and the first forward pass
    // sets up the network: warm up, then time requests on the now established connection.
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(conn.exchange(health).rfind("HTTP/1.1 200", 0), 0u);
      EXPECT_EQ(conn.exchange(predict).rfind("HTTP/1.1 200", 0), 0u);
    }
    const double health_ms = series(conn, health, [](const json& j) { EXPECT_EQ(j.value("status", ""), "ok"); });
    const double predict_ms = series(conn, predict, [&](const json& j) {
      EXPECT_EQ(j.value("label", ""), image.ranking[0].label) << j.dump();
    });
    EXPECT_GE(health_ms, 0.0);
    EXPECT_GE(predict_ms, 0.0);
    EXPECT_LT(health_ms, 400.0) << kRequests << " GET /healthz over one kept-alive connection took " << health_ms
                                << " ms: the answers stall (Nagle + delayed ACK: is TCP_NODELAY set on the "
                                   "server's sockets?)";
    EXPECT_LT(predict_ms, 400.0) << kRequests << " POST /api/predict over one kept-alive connection took "
                                 << predict_ms << " ms: the answers stall (Nagle + delayed ACK)";
    std::printf("keep-alive: %d GET /healthz in %.1f ms, %d POST /api/predict in %.1f ms\n", kRequests, health_ms,
                kRequests, predict_ms);
  }  // closed before stop(): the server's worker need not wait out the keep-alive timeout
  server.stop();
  runner.join();
}

TEST_F(ServeApi, StopBeforeRunAndDestructionWithoutRunDoNotHang) {
  ServeOptions options;
  options.port = 0;
  {
    ModelServer server(model_path_, options);
    server.stop();
    server.run();  // returns at once
  }
  { ModelServer never_run(model_path_, options); }
  SUCCEED();
}

TEST_F(ServeApi, ClearErrorsForABadModelOrAnAddressInUse) {
  ServeOptions options;
  options.port = 0;
  try {
    ModelServer missing((dir_->path() / "missing.imagefit").string(), options);
    FAIL() << "expected an error for a missing model file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.imagefit"), std::string::npos) << e.what();
  }
  options.port = server_->port();  // taken by the suite's server
  try {
    ModelServer clash(model_path_, options);
    FAIL() << "expected an error for a port in use";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(options.port)), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--port"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ServeOptions{}.max_body_mb, 20);
  EXPECT_EQ(ServeOptions{}.host, "127.0.0.1");
}

TEST_F(ServeApi, ChunkedUploadsAreReadWithTheSameLimit) {
  auto c = client();
  auto chunked = [&](const std::string& bytes, size_t piece) {
    return c.Post(
        "/api/predict",
        [&bytes, piece](size_t offset, httplib::DataSink& sink) {
          const size_t n = std::min(piece, bytes.size() - offset);
          sink.write(bytes.data() + offset, n);
          if (offset + n == bytes.size()) sink.done();
          return true;
        },
        "image/png");
  };
  expect_prediction(answer(chunked(images_[0].bytes, 1000)), images_[0], 5);
  expect_error(answer(chunked(std::string(3 * 1024 * 1024, 'x'), 64 * 1024)), 413, "limit");
}

TEST_F(ServeApi, APostWithoutContentLengthHasNoBodyAndDoesNotHang) {
  const auto start = std::chrono::steady_clock::now();
  const std::string reply =
      raw_exchange(server_->port(), "POST /api/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  EXPECT_NE(reply.find("empty request body"), std::string::npos) << reply;
  EXPECT_LT(seconds, 5.0) << "the server waited for a body that was never announced";
  // Garbage instead of HTTP gets a 400 too, and the server carries on.
  const std::string garbage = raw_exchange(server_->port(), "\x01\x02 hello\r\n\r\n");
  EXPECT_EQ(garbage.rfind("HTTP/1.1 400", 0), 0u) << garbage;
  EXPECT_EQ(answer(client().Get("/healthz")).status, 200);
}

TEST_F(ServeApi, SlowOrSilentClientsDoNotBlockOthers) {
  // A client that connects and sends half a request, then nothing: others are still served.
  httplib::Client c = client();
  std::thread silent([] {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      const char partial[] = "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc";
      [[maybe_unused]] auto n = ::send(fd, partial, sizeof partial - 1, 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    }
    ::close(fd);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  expect_prediction(answer(c.Post("/api/predict", images_[3].bytes, images_[3].type)), images_[3], 5);
  silent.join();
  Answer h = answer(c.Get("/healthz"));
  EXPECT_EQ(h.status, 200);
}

}  // namespace
}  // namespace imagefit

// `imagefit serve` as a user runs it: the built binary on a free loopback port, answers that match
// `imagefit predict`, clear start-up errors, and a graceful stop on SIGTERM / SIGINT with requests
// in flight (they are answered, exit code 0).
#include <httplib.h>

#include <thread>

#include "core/fs.h"
#include "serve_test_util.h"
#include "test_support.h"

namespace imagefit {
namespace {

using json = nlohmann::json;
using test::ChildProcess;

std::string bin() { return test::imagefit_binary().string(); }
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

class ServeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto help = test::run_command(bin() + " serve --help");
    ASSERT_EQ(help.exit_code, 0) << "the imagefit binary has no 'serve' command: src/cli/main.cpp must call "
                                    "add_serve_command(app, global)\n"
                                 << help.output;
    model_ = dir_.path() / "animals.imagefit";
    test::make_test_model(model_);
    image_ = dir_.path() / "picture.png";
    test::write_bytes(image_, test::encode(test::test_picture_bgr(3), ".png"));
  }

  // `imagefit predict --json` on the image: {"label","probability","top"}.
  json predict_cli() {
    auto r = test::run_command(bin() + " predict " + q(model_) + " " + q(image_) + " --json --top-k 7");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return json::parse(r.output.substr(r.output.rfind("\n{") == std::string::npos ? r.output.find('{')
                                                                                    : r.output.rfind("\n{") + 1));
  }

  TempDir dir_{"imagefit-serve-cli"};
  fs::path model_, image_;
};

TEST_F(ServeCli, HelpHasAnExampleAndTheOptions) {
  auto help = test::run_command(bin() + " serve --help");
  for (const char* s : {"Examples:", "imagefit serve model.imagefit", "--host", "--port", "--threads", "--max-body-mb",
                        "--device", "/api/predict", "SIGTERM"})
    EXPECT_NE(help.output.find(s), std::string::npos) << s << "\n" << help.output;
}

TEST_F(ServeCli, AnswersLikePredictAndStopsOnSigtermWithRequestsInFlight) {
  const json expected = predict_cli();
  // Long batch windows: the requests below are surely in flight when SIGTERM comes.
  ChildProcess serve({bin(), "serve", model_.string(), "--port", "0", "--threads", "2", "--batch-window-ms", "10000"},
                     dir_.path() / "serve.log");
  ASSERT_TRUE(serve.started());
  const int port = serve.wait_for_port(120);
  ASSERT_GT(port, 0) << serve.log();
  EXPECT_NE(serve.log().find("animals.imagefit (simple-cnn, 7 classes, 32x32 input"), std::string::npos) << serve.log();

  const std::string bytes = read_file(image_);
  constexpr int kClients = 4;
  std::vector<json> answers(kClients);
  std::vector<int> statuses(kClients, 0);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(60);
      auto r = c.Post("/api/predict?top_k=7", bytes, "image/png");
      if (!r) return;
      statuses[size_t(i)] = r->status;
      answers[size_t(i)] = json::parse(r->body, nullptr, false);
    });
  }
  // Connected, decoded and waiting for their batch (which the 10 s window keeps from running).
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  const auto signal_time = std::chrono::steady_clock::now();
  const int code = serve.stop(SIGTERM, 30);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - signal_time).count();
  for (auto& t : clients) t.join();
  EXPECT_EQ(code, 0) << serve.log();
  EXPECT_LT(seconds, 5.0) << "the stop waited for the batch window";
  for (int i = 0; i < kClients; ++i) {
    SCOPED_TRACE("client " + std::to_string(i));
    ASSERT_EQ(statuses[size_t(i)], 200) << answers[size_t(i)].dump();
    EXPECT_EQ(answers[size_t(i)]["label"], expected["label"]);
    ASSERT_EQ(answers[size_t(i)]["top"].size(), expected["top"].size());
    for (size_t k = 0; k < expected["top"].size(); ++k) {
      EXPECT_EQ(answers[size_t(i)]["top"][k]["label"], expected["top"][k]["label"]);
      EXPECT_NEAR(answers[size_t(i)]["top"][k]["probability"].get<double>(),
                  expected["top"][k]["probability"].get<double>(), 1e-5);
    }
  }
  const std::string log = serve.log();
  EXPECT_NE(log.find("SIGTERM received"), std::string::npos) << log;
  EXPECT_NE(log.find("server stopped (4 images classified"), std::string::npos) << log;
}

TEST_F(ServeCli, SigintStopsAnIdleServerWithExitCodeZero) {
  ChildProcess serve({bin(), "serve", model_.string(), "--port", "0"}, dir_.path() / "serve.log");
  const int port = serve.wait_for_port(120);
  ASSERT_GT(port, 0) << serve.log();
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "{\"status\":\"ok\"}");
  EXPECT_EQ(serve.stop(SIGINT, 30), 0) << serve.log();
}

TEST_F(ServeCli, ClearErrorsAtStartUp) {
  auto missing = test::run_command(bin() + " serve " + q(dir_.path() / "nope.imagefit"));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("nope.imagefit"), std::string::npos) << missing.output;

  auto not_a_model = test::run_command(bin() + " serve " + q(image_) + " --port 0");
  EXPECT_EQ(not_a_model.exit_code, 1) << not_a_model.output;
  EXPECT_NE(not_a_model.output.find("picture.png"), std::string::npos) << not_a_model.output;

  ChildProcess first({bin(), "serve", model_.string(), "--port", "0"}, dir_.path() / "first.log");
  const int port = first.wait_for_port(120);
  ASSERT_GT(port, 0) << first.log();
  auto clash = test::run_command(bin() + " serve " + q(model_) + " --port " + std::to_string(port));
  EXPECT_EQ(clash.exit_code, 1) << clash.output;
  EXPECT_NE(clash.output.find("cannot listen on 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << clash.output;
  EXPECT_EQ(first.stop(SIGTERM, 30), 0) << first.log();

  auto bad_port = test::run_command(bin() + " serve " + q(model_) + " --port 70000");
  EXPECT_NE(bad_port.exit_code, 0);
  EXPECT_NE(bad_port.output.find("--port"), std::string::npos) << bad_port.output;
}

}  // namespace
}  // namespace imagefit

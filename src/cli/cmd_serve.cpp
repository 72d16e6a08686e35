// imagefit serve MODEL: the model behind a web page and a JSON API (see serve/server.h).
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/error.h"
#include "data/image_io.h"
#include "serve/server.h"

namespace imagefit::cli {

namespace {

// SIGINT/SIGTERM → one byte down a pipe; a thread reading it stops the server, so the signal handler
// itself only does async-signal-safe things. A second signal ends the process at once.
int g_stop_pipe[2] = {-1, -1};
volatile std::sig_atomic_t g_stop_signals = 0;

void on_stop_signal(int signal) {
  if (g_stop_signals++ > 0) {
    const char msg[] = "imagefit: second signal, stopping now\n";
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(130);
  }
  const char c = char(signal);
  [[maybe_unused]] ssize_t n = ::write(g_stop_pipe[1], &c, 1);
}

void install_stop_signals() {
  if (::pipe2(g_stop_pipe, O_CLOEXEC) != 0) throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not end the server
}

// Blocks until a signal (returns its number) or wake_signal_watcher() (returns 0).
int wait_for_stop_signal() {
  char c = 0;
  while (::read(g_stop_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return int(static_cast<unsigned char>(c));
}

// Each connection holds a descriptor: the usual soft limit of 1024 would end accept() well before
// --http-threads connections. The hard limit is the system's to set; the soft one is ours to raise.
void raise_open_file_limit(size_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t target = std::min<rlim_t>(lim.rlim_max, rlim_t(wanted));
  if (lim.rlim_cur < target) {
    lim.rlim_cur = target;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

void wake_signal_watcher() {
  const char c = 0;
  [[maybe_unused]] ssize_t n = ::write(g_stop_pipe[1], &c, 1);
}

}  // namespace

void add_serve_command(CLI::App& app) {
  struct Opts {
    std::string model;
    ServeOptions serve;
    uint64_t max_pixels = 0;
  };
  auto o = std::make_shared<Opts>();
  auto common = std::make_shared<CommonOptions>();
  auto* cmd = app.add_subcommand("serve", "Serve a model: a web page to try it and a JSON API (POST /api/predict).");
  cmd->footer(
      "Examples:\n"
      "  imagefit serve model.imagefit                     then open http://127.0.0.1:8080/\n"
      "  imagefit serve model.imagefit --host 0.0.0.0 --port 9000\n"
      "  curl -F file=@photo.jpg 'http://127.0.0.1:8080/api/predict?top_k=3'\n"
      "  curl -H 'Content-Type: image/jpeg' --data-binary @photo.jpg http://127.0.0.1:8080/api/predict\n"
      "API: POST /api/predict → {\"label\",\"probability\",\"top\":[{\"label\",\"probability\"}],\"model\",\"ms\"};\n"
      "     GET /api/model (classes, architecture, input, training metrics); GET /healthz.\n"
      "Errors are JSON {\"error\": \"...\"} with status 400/404/405/413/415/422.\n"
      "Ctrl-C or SIGTERM stops the server after answering the requests in flight (exit code 0); clients still\n"
      "sending get 2 s to finish.");
  cmd->add_option("model", o->model, "Model file (from imagefit train)")->required()->check(existing_file());
  cmd->add_option("--host", o->serve.host, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
  cmd->add_option("--port", o->serve.port, "Port (0: any free port, printed on start)")
      ->capture_default_str()
      ->check(int_range(0, 65535));
  cmd->add_option("--http-threads", o->serve.http_threads,
                  "Connections open at once, each with its own thread (default 1024; more get 503). A client must "
                  "send its headers within 10 s, so slow clients cannot hold them long")
      ->check(int_range(0, 65536));
  cmd->add_option("--max-body-mb", o->serve.max_body_mb, "Largest upload accepted, in MB (larger: 413)")
      ->capture_default_str()
      ->check(int_range(1, 4096));
  auto* pixels = cmd->add_option(
      "--max-image-pixels", o->max_pixels,
      "Largest image accepted, in pixels (width x height, read from the header before decoding; larger: 413). "
      "Default 89478485 (PIL's limit, about 89.5 MP), or $IMAGEFIT_MAX_IMAGE_PIXELS; 0: no limit");
  pixels->check(int_range(0, int64_t(1) << 40));
  cmd->add_option("--decode-memory-mb", o->serve.decode_memory_mb,
                  "Memory for images being decoded at once, in MB (estimated from their headers); a request that "
                  "does not fit waits up to 2 s, then gets 503 with Retry-After")
      ->capture_default_str()
      ->check(int_range(1, 1 << 20));
  cmd->add_option("--batch-window-ms", o->serve.batch_window_ms,
                  "How long a request waits for others to share its forward pass")
      ->capture_default_str()
      ->check(int_range(0, 10000));
  cmd->add_option("--max-batch", o->serve.max_batch, "Most images in one forward pass")
      ->capture_default_str()
      ->check(int_range(1, 1024));
  CommonHelp help;
  help.threads = "Compute threads for the model (default: all cores)";
  add_common_options(cmd, *common, {Common::Threads, Common::Device, Common::Precision, Common::Tta, Common::NoCalibration},
                     help);
  cmd->add_flag("--log-requests", o->serve.log_requests,
                "Print one line a request on stderr (address, method, path, status, bytes; control characters "
                "and non-ASCII bytes as \\xHH)");
  cmd->callback([o, common, pixels] {
    o->serve.threads = common->threads;
    o->serve.device = common->device;
    o->serve.precision = to_string(common->precision);
    o->serve.tta = common->tta;
    o->serve.calibrated = !common->uncalibrated;
    if (pixels->count() > 0) set_max_image_pixels(o->max_pixels);
    max_image_pixels();  // a bad $IMAGEFIT_MAX_IMAGE_PIXELS is an error now, not at the first upload
    raise_open_file_limit(size_t(o->serve.http_threads > 0 ? o->serve.http_threads : 1024) + 256);
    ModelServer server(o->model, o->serve);
    install_stop_signals();
    std::thread watcher([&server] {
      const int signal = wait_for_stop_signal();
      if (signal == 0) return;
      std::fprintf(stderr, "imagefit: %s received, answering the requests in flight, then stopping\n",
                   signal == SIGINT ? "SIGINT" : "SIGTERM");
      server.stop();
    });
    std::printf("imagefit: serving %s\n", server.description().c_str());
    std::printf("imagefit: open %s in a browser (API: POST %sapi/predict); Ctrl-C stops\n", server.url().c_str(),
                server.url().c_str());
    std::fflush(stdout);
    try {
      server.run();
    } catch (...) {
      wake_signal_watcher();
      watcher.join();
      throw;
    }
    wake_signal_watcher();
    watcher.join();
    const BatchStats stats = server.batch_stats();
    std::printf("imagefit: server stopped (%llu images classified in %llu forward passes)\n",
                (unsigned long long)stats.images, (unsigned long long)stats.batches);
  });
}

}  // namespace imagefit::cli

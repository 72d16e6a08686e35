// imagefit launch: starts N local ranks of a command with torchrun's environment (MASTER_ADDR,
// MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK), as
// `torchrun --nproc_per_node N` does: a free port by default, each line prefixed by its rank, the
// exit code of the first rank that fails (the others are then stopped). Rank 0's output passes as
// it is; the other ranks' lines (they print only problems) are prefixed "[rank N] ".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/error.h"

namespace imagefit::cli {

namespace {

// A port nobody listens on now (the OS picks it), for a one-machine run.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw Error(std::string("launch: cannot find a free port: ") + std::strerror(errno));
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::vector<std::string>& launched() {
  static std::vector<std::string> args;
  return args;
}

volatile std::sig_atomic_t g_forward = 0;
void on_signal(int s) { g_forward = s; }

struct Child {
  pid_t pid = -1;
  int rank = 0;
  int out = -1, err = -1;         // read ends of its stdout and stderr
  std::string out_line, err_line;  // partial lines
  bool running = true;
  int exit_code = 0;
};

// Writes the complete lines of `buffer` to `to`, each prefixed; keeps the rest.
void flush_lines(std::string& buffer, std::FILE* to, const std::string& prefix, bool all) {
  size_t start = 0;
  for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1)
    std::fprintf(to, "%s%.*s\n", prefix.c_str(), int(nl - start), buffer.data() + start);
  buffer.erase(0, start);
  if (all && !buffer.empty()) {
    std::fprintf(to, "%s%s\n", prefix.c_str(), buffer.c_str());
    buffer.clear();
  }
  std::fflush(to);
}

}  // namespace

void set_launch_command(std::vector<std::string> args) { launched() = std::move(args); }
const std::vector<std::string>& launch_command() { return launched(); }

void add_launch_command(CLI::App& app) {
  struct Opts {
    int nproc = 1, nnodes = 1, node_rank = 0, master_port = 0;
    std::string master_addr = "127.0.0.1";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "launch", "Start N data-parallel ranks of 'train' on this machine (torchrun's environment and behaviour).");
  cmd->footer(
      "Examples:\n"
      "  imagefit launch --nproc 2 -- train data/ -o model.imagefit\n"
      "  node 0: imagefit launch --nproc 4 --nnodes 2 --node-rank 0 --master-addr 10.0.0.1 --master-port 29500 -- train data/\n"
      "  node 1: imagefit launch --nproc 4 --nnodes 2 --node-rank 1 --master-addr 10.0.0.1 --master-port 29500 -- train data/\n"
      "Each rank gets MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE; 'train' gets\n"
      "--distributed. torchrun works the same way: torchrun --nproc_per_node 2 --no-python imagefit train data/ --distributed");
  cmd->add_option("--nproc", o->nproc, "Ranks on this machine")->capture_default_str()->check(int_range(1, 1024));
  cmd->add_option("--nnodes", o->nnodes, "Machines in the run")->capture_default_str()->check(int_range(1, 65536));
  cmd->add_option("--node-rank", o->node_rank, "This machine's index, 0 to nnodes-1")
      ->capture_default_str()
      ->check(int_range(0, 65535));
  cmd->add_option("--master-addr", o->master_addr, "Address of node 0 (where rank 0 listens)")->capture_default_str();
  cmd->add_option("--master-port", o->master_port, "Port rank 0 listens on (default: a free one on a single machine, else 29500)")
      ->check(int_range(1, 65535));
  cmd->callback([o] {
    std::vector<std::string> command = launch_command();
    if (command.empty() || command.front() != "train")
      throw UsageError("launch: give the command to run after --, e.g. imagefit launch --nproc 2 -- train data/");
    if (o->node_rank >= o->nnodes)
      throw UsageError("--node-rank " + std::to_string(o->node_rank) + " must be below --nnodes " + std::to_string(o->nnodes));
    bool has_flag = false;
    for (const auto& a : command) has_flag = has_flag || a == "--distributed";
    if (!has_flag) command.push_back("--distributed");
    const int port = o->master_port > 0 ? o->master_port : o->nnodes == 1 ? free_port() : 29500;
    const int world = o->nproc * o->nnodes;

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::vector<Child> children(size_t(o->nproc));
    for (int local = 0; local < o->nproc; ++local) {
      Child& c = children[size_t(local)];
      c.rank = o->node_rank * o->nproc + local;
      int out[2], err[2];
      if (::pipe(out) != 0 || ::pipe(err) != 0) throw Error(std::string("launch: pipe: ") + std::strerror(errno));
      c.pid = ::fork();
      if (c.pid < 0) throw Error(std::string("launch: fork: ") + std::strerror(errno));
      if (c.pid == 0) {
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        ::close(out[0]);
        ::close(err[0]);
        const std::map<std::string, std::string> env = {
            {"MASTER_ADDR", o->master_addr},        {"MASTER_PORT", std::to_string(port)},
            {"WORLD_SIZE", std::to_string(world)},  {"RANK", std::to_string(c.rank)},
            {"LOCAL_RANK", std::to_string(local)},  {"LOCAL_WORLD_SIZE", std::to_string(o->nproc)},
            {"GROUP_RANK", std::to_string(o->node_rank)}};
        for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> argv{const_cast<char*>("imagefit")};
        for (auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv("/proc/self/exe", argv.data());
        std::fprintf(stderr, "launch: cannot start imagefit: %s\n", std::strerror(errno));
        ::_exit(127);
      }
      ::close(out[1]);
      ::close(err[1]);
      c.out = out[0];
      c.err = err[0];
    }
    std::fprintf(stderr, "launch: %d rank%s on this machine (ranks %d-%d of %d), rank 0 at %s:%d\n", o->nproc,
                 o->nproc == 1 ? "" : "s", o->node_rank * o->nproc, o->node_rank * o->nproc + o->nproc - 1, world,
                 o->master_addr.c_str(), port);

    int first_failure = 0;
    bool stopping = false;
    auto stop_all = [&](int signal) {
      for (auto& c : children)
        if (c.running) ::kill(c.pid, signal);
    };
    for (;;) {
      std::vector<pollfd> fds;
      std::vector<std::pair<Child*, bool>> who;  // child, is stderr
      for (auto& c : children) {
        if (c.out >= 0) fds.push_back({c.out, POLLIN, 0}), who.push_back({&c, false});
        if (c.err >= 0) fds.push_back({c.err, POLLIN, 0}), who.push_back({&c, true});
      }
      if (fds.empty()) break;
      ::poll(fds.data(), fds.size(), 200);
      if (g_forward && !stopping) {  // Ctrl-C or SIGTERM: pass it on, the ranks stop cleanly together
        stop_all(g_forward);
        stopping = true;
      }
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        Child& c = *who[i].first;
        const bool is_err = who[i].second;
        char buf[65536];
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        std::string& line = is_err ? c.err_line : c.out_line;
        // Rank 0 speaks for the run (its --json stays parseable); the others' lines say whose they are.
        const std::string prefix = c.rank == 0 ? "" : "[rank " + std::to_string(c.rank) + "] ";
        if (n > 0) {
          line.append(buf, size_t(n));
          flush_lines(line, is_err ? stderr : stdout, prefix, false);
        } else {
          flush_lines(line, is_err ? stderr : stdout, prefix, true);
          ::close(fds[i].fd);
          (is_err ? c.err : c.out) = -1;
        }
      }
      for (auto& c : children) {
        int status = 0;
        if (!c.running || ::waitpid(c.pid, &status, WNOHANG) != c.pid) continue;
        c.running = false;
        c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (c.exit_code != 0 && first_failure == 0) {
          first_failure = c.exit_code;
          std::fprintf(stderr, "launch: rank %d exited with %d; stopping the others\n", c.rank, c.exit_code);
          if (!stopping) stop_all(SIGTERM);
          stopping = true;
        }
      }
    }
    for (auto& c : children) {
      int status = 0;
      if (c.running && ::waitpid(c.pid, &status, 0) == c.pid) {
        c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (c.exit_code != 0 && first_failure == 0) first_failure = c.exit_code;
      }
    }
    if (first_failure != 0) throw CLI::RuntimeError(first_failure);
  });
}

}  // namespace imagefit::cli

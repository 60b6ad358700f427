#pragma once
// A private redis-server for store tests that must stop and restart Redis (an outage), which the
// suite's shared server (REDIS_TEST_URL) cannot do without disturbing other tests. Loopback
// only, no persistence: a restart comes back empty, as a Redis pod without a volume does.

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "store/redis_client.h"

extern char** environ;

namespace recserve::store {

// A loopback TCP port nothing listens on right now (bound, read back, released).
inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

class PrivateRedis {
 public:
  explicit PrivateRedis(int port = FreeLoopbackPort())
      : port_(port),
        dir_(
            std::filesystem::temp_directory_path() /
            ("recserve-private-redis-" + std::to_string(::getpid()) + "-" + std::to_string(port))) {
    std::filesystem::create_directories(dir_);
  }
  ~PrivateRedis() {
    Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  PrivateRedis(const PrivateRedis&) = delete;
  PrivateRedis& operator=(const PrivateRedis&) = delete;

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  RedisEndpoint endpoint() const {
    RedisEndpoint e;
    e.port = port_;
    return e;
  }

  // Starts redis-server and waits (at most 10 s) until it answers PING. False when it did not.
  bool Start() {
    const std::string port = std::to_string(port_);
    const std::string dir = dir_.string();
    std::vector<std::string> args = {
        "redis-server", "--port", port,    "--bind", "127.0.0.1",  "--save", "",
        "--appendonly", "no",     "--dir", dir,      "--loglevel", "warning"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid_, "redis-server", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      return false;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      auto client = RedisClient::Connect(endpoint(), {});
      if (client.ok() && (*client)->Command({"PING"}).ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // SIGKILL: the outage is abrupt, as when a node dies.
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  int port_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

}  // namespace recserve::store

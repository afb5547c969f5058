// What the process check's tests share: a real child process to watch (Sleeper) and a bounded
// run of the io_context until an event (run_until); no assertion depends on how long anything took.
#pragma once
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>

#include "base/asio.hpp"

namespace herald::health::testing {

/// A child that sleeps until killed; killed and reaped when the Sleeper goes, whatever happens.
struct Sleeper {
  pid_t pid = -1;
  Sleeper() {
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      for (;;) ::pause();
    }
  }
  Sleeper(const Sleeper&) = delete;
  Sleeper& operator=(const Sleeper&) = delete;
  bool alive() const { return pid > 0 && ::kill(pid, 0) == 0; }
  void kill_and_reap() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
  ~Sleeper() { kill_and_reap(); }
};

/// Runs `io` until `done()` or 5 s, whichever comes first.
template <typename Pred>
void run_until(boost::asio::io_context& io, Pred done) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(5ms);
  }
}

/// Runs `io` until `got` holds a value (or 5 s), which it requires and returns.
template <typename T>
T run_until_value(boost::asio::io_context& io, std::optional<T>& got) {
  run_until(io, [&] { return got.has_value(); });
  REQUIRE(got.has_value());
  return *got;
}

}  // namespace herald::health::testing

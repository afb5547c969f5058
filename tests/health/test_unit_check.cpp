// The process check following a systemd unit, wired to a fake bus (health/unit_bus.hpp) and real
// processes: what the bus says goes through the tracker into pidfds and immediate downs. Asserts
// on the order of events, never on how long anything took; every wait is bounded.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "health/process_check.hpp"
#include "health/unit_bus.hpp"
#include "tests/health/child_process.hpp"

namespace health = herald::health;
using namespace std::chrono_literals;
using herald::health::testing::run_until;
using herald::health::testing::run_until_value;
using herald::health::testing::Sleeper;

namespace {

// What the test tells the checker systemd said. Reads wait until the test answers them.
struct FakeBus final : health::UnitBus {
  boost::asio::io_context& io;
  explicit FakeBus(boost::asio::io_context& c) : io(c) {}
  ReadDone pending;
  int reads = 0;
  std::function<void(health::UnitState)> change;
  std::function<void(std::string)> lost;
  bool closed = false;
  void read(health::Duration, ReadDone done) override {
    REQUIRE_FALSE(pending);  // one read at a time
    ++reads;
    pending = std::move(done);
  }
  void on_change(std::function<void(health::UnitState)> cb) override { change = std::move(cb); }
  void on_lost(std::function<void(std::string)> cb) override { lost = std::move(cb); }
  void close() override { closed = true; }
  void answer(herald::Expected<health::UnitState, std::string> r) {
    REQUIRE(pending);
    boost::asio::post(io, [done = std::move(pending), r] { done(r); });
    pending = nullptr;
  }
};

health::UnitState state(const char* active, int pid) {
  return health::UnitState{std::string("loaded"), std::string(active), pid};
}

struct Fixture {
  boost::asio::io_context io;
  FakeBus* bus = nullptr;
  std::optional<health::ProcessChecker> checker;
  std::vector<std::string> downs;
  Fixture() {
    auto b = std::make_unique<FakeBus>(io);
    bus = b.get();
    checker.emplace(io, health::ProcessCheckSpec{"", "dnstest.service"}, std::move(b));
    checker->on_exit([this](std::string why) { downs.push_back(std::move(why)); });
  }
  // Starts a round; answers its read with `r` if it reads.
  health::CheckResult round(std::optional<herald::Expected<health::UnitState, std::string>> r) {
    std::optional<health::CheckResult> got;
    checker->start(1s, [&](health::CheckResult res) { got = std::move(res); });
    if (r) {
      run_until(io, [&] { return bus->pending != nullptr; });
      bus->answer(*r);
    }
    return run_until_value(io, got);
  }
};

}  // namespace

TEST_CASE("unit check: watches MainPID; deactivating is down at once while the process still runs") {
  Fixture f;
  Sleeper server;
  auto r = f.round(state("active", server.pid));
  CHECK(r.pass);
  CHECK(r.reason == "unit dnstest.service main PID " + std::to_string(server.pid) + " running");
  CHECK(f.checker->watched_pid() == server.pid);
  // While watching, a round needs no read.
  const int reads = f.bus->reads;
  CHECK(f.round(std::nullopt).pass);
  CHECK(f.bus->reads == reads);

  f.bus->change(health::UnitState{std::nullopt, std::string("deactivating"), std::nullopt});
  REQUIRE(f.downs.size() == 1);
  CHECK(f.downs[0] == "unit dnstest.service deactivating (main PID " + std::to_string(server.pid) +
                          "): a stop in progress");
  CHECK(server.alive());
  CHECK_FALSE(f.checker->watched_pid());
  // Rounds read again and fail while the unit is not active.
  r = f.round(health::UnitState{std::string("loaded"), std::string("deactivating"), server.pid});
  CHECK_FALSE(r.pass);
  CHECK(r.reason == "unit dnstest.service is deactivating");
  CHECK(f.downs.size() == 1);
}

TEST_CASE("unit check: the main process's exit is down at once, no round needed; a restart's new PID is watched") {
  Fixture f;
  std::optional<Sleeper> first(std::in_place);
  CHECK(f.round(state("active", first->pid)).pass);
  const int old_pid = first->pid;
  first->kill_and_reap();
  run_until(f.io, [&] { return !f.downs.empty(); });
  REQUIRE(f.downs.size() == 1);
  CHECK(f.downs[0] == "unit dnstest.service main PID " + std::to_string(old_pid) + " exited");

  // systemd restarts it: activating, then active; the new MainPID is read and watched.
  Sleeper second;
  f.bus->change(health::UnitState{std::nullopt, std::string("activating"), 0});
  f.bus->change(health::UnitState{std::nullopt, std::string("active"), std::nullopt});
  run_until(f.io, [&] { return f.bus->pending != nullptr; });
  REQUIRE(f.bus->pending);  // re-read because the unit became active again
  f.bus->answer(state("active", second.pid));
  run_until(f.io, [&] { return f.checker->watched_pid().has_value(); });
  CHECK(f.checker->watched_pid() == second.pid);
  CHECK(f.round(std::nullopt).pass);
  CHECK(f.downs.size() == 1);
}

TEST_CASE("unit check: bus errors and a missing unit fail the rounds with the reason") {
  Fixture f;
  auto r = f.round(herald::Expected<health::UnitState, std::string>(herald::unexpected(
      std::string("cannot connect to systemd's bus unix:path=/nonexistent: No such file or directory"))));
  CHECK_FALSE(r.pass);
  CHECK(r.reason ==
        "unit dnstest.service: cannot connect to systemd's bus unix:path=/nonexistent: No such file or directory");
  // Within the retry interval a round does not read again: it reports the same error.
  const int reads = f.bus->reads;
  r = f.round(std::nullopt);
  CHECK(f.bus->reads == reads);
  CHECK(r.reason ==
        "unit dnstest.service: cannot connect to systemd's bus unix:path=/nonexistent: No such file or directory");
  CHECK(f.downs.empty());
}

TEST_CASE("unit check: a unit systemd does not know fails, saying so") {
  Fixture f;
  auto r = f.round(health::UnitState{std::string("not-found"), std::string("inactive"), 0});
  CHECK_FALSE(r.pass);
  CHECK(r.reason == "unit dnstest.service does not exist (LoadState=not-found)");
}

TEST_CASE("unit check: a MainPID that is gone already fails the round") {
  Fixture f;
  Sleeper gone;
  const int pid = gone.pid;
  gone.kill_and_reap();
  auto r = f.round(state("active", pid));
  CHECK_FALSE(r.pass);
  CHECK(r.reason == "unit dnstest.service: main PID " + std::to_string(pid) + " not running");
  CHECK(f.downs.empty());
}

TEST_CASE("unit check: stop_watching closes the bus and ends the callbacks") {
  Fixture f;
  Sleeper server;
  CHECK(f.round(state("active", server.pid)).pass);
  f.checker->stop_watching();
  CHECK(f.bus->closed);
  f.bus->change(health::UnitState{std::nullopt, std::string("deactivating"), std::nullopt});
  CHECK(f.downs.empty());
}

TEST_CASE("unit check: a stopped main PID fails the rounds, down at once on the first; continued, it passes") {
  Fixture f;
  Sleeper server;
  CHECK(f.round(state("active", server.pid)).pass);
  REQUIRE(::kill(server.pid, SIGSTOP) == 0);
  siginfo_t info{};
  REQUIRE(::waitid(P_PID, static_cast<id_t>(server.pid), &info, WSTOPPED | WNOWAIT) == 0);
  const std::string stopped = "unit dnstest.service main PID " + std::to_string(server.pid) +
                              " stopped (state T): it answers nothing until continued";
  auto r = f.round(std::nullopt);  // watching: no read, the state comes from /proc
  CHECK_FALSE(r.pass);
  CHECK(r.reason == stopped);
  REQUIRE(f.downs.size() == 1);
  CHECK(f.downs[0] == stopped);
  CHECK_FALSE(f.round(std::nullopt).pass);
  CHECK(f.downs.size() == 1);
  REQUIRE(::kill(server.pid, SIGCONT) == 0);
  r = f.round(std::nullopt);
  CHECK(r.pass);
  CHECK(r.reason == "unit dnstest.service main PID " + std::to_string(server.pid) + " running");
}


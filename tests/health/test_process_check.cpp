// The process check against real processes: a forked sleeper's PID in a pidfile, killed while
// watched. Asserts on the order of events (exit reported before any round ran again), never on
// how long anything took; every wait is bounded.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "health/monitor.hpp"
#include "health/process_check.hpp"
#include "tests/health/child_process.hpp"

namespace health = herald::health;
using namespace std::chrono_literals;
using health::ServiceState;
using herald::health::testing::run_until;
using herald::health::testing::run_until_value;
using herald::health::testing::Sleeper;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "herald-process-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

// SIGSTOP, returning once the child is stopped (waitid leaves the stop to be waited for again).
void stop_child(pid_t pid) {
  REQUIRE(::kill(pid, SIGSTOP) == 0);
  siginfo_t info{};
  REQUIRE(::waitid(P_PID, static_cast<id_t>(pid), &info, WSTOPPED | WNOWAIT) == 0);
}

health::CheckResult run_once(boost::asio::io_context& io, health::ProcessChecker& c) {
  std::optional<health::CheckResult> got;
  c.start(1s, [&](health::CheckResult r) { got = std::move(r); });
  return run_until_value(io, got);
}

// Service "dns" with the process check of `pidfile` alone: checked every `interval`, up after
// one passing round, down after `fall` failing ones, no splay, no flap damping.
health::ServiceSpec process_service(const std::filesystem::path& pidfile, std::chrono::milliseconds interval,
                                    int fall) {
  health::ServiceSpec s;
  s.name = "dns";
  s.policy.interval = interval;
  s.policy.fast_interval = interval;
  s.policy.timeout = 1s;
  s.policy.rise = 1;
  s.policy.fall = fall;
  s.policy.splay = 0ms;
  s.policy.flap.enabled = false;
  s.checks.push_back(health::ProcessCheckSpec{pidfile.string(), ""});
  return s;
}

// A Monitor of `s` whose state changes go to `events` as "Old->New: reason".
health::Monitor recording_monitor(boost::asio::io_context& io, const health::ServiceSpec& s,
                                  std::vector<std::string>& events) {
  return health::Monitor(io, {s}, [&events](const health::ServiceStatus& st, ServiceState prev) {
    events.push_back(std::string(health::to_string(prev)) + "->" + health::to_string(st.state) + ": " + st.reason);
  });
}

}  // namespace

TEST_CASE("parse_pid: decimal PIDs only") {
  CHECK(health::parse_pid("1234\n").value() == 1234);
  CHECK(health::parse_pid("  42 ").value() == 42);
  CHECK(health::parse_pid("2147483647").value() == 2147483647);
  CHECK(health::parse_pid("").error() == "empty");
  CHECK(health::parse_pid(" \n").error() == "empty");
  CHECK(health::parse_pid("0").error() == "not a PID: \"0\"");
  CHECK(health::parse_pid("-5").error() == "not a PID: \"-5\"");
  CHECK(health::parse_pid("12 34").error() == "not a PID: \"12 34\"");
  CHECK(health::parse_pid("2147483648").error() == "not a PID: \"2147483648\"");
  CHECK(health::parse_pid("99999999999999999999999").has_value() == false);
  CHECK(health::parse_pid("unbound").error() == "not a PID: \"unbound\"");
}

TEST_CASE("parse_proc_state: the state after the last parenthesis") {
  CHECK(health::parse_proc_state("1234 (unbound) S 1 1234 1234 0 -1").value() == 'S');
  CHECK(health::parse_proc_state("77 (a) b) T) T 1 77").value() == 'T');  // a command name with ") "
  CHECK(health::parse_proc_state("9 (gdb target) t 8 9").value() == 't');
  CHECK(health::parse_proc_state("").error() == "no state after the command name");
  CHECK(health::parse_proc_state("12 (x)").error() == "no state after the command name");
  CHECK(health::parse_proc_state("12 (x) 1 2").error() == "not a state: '1'");
  CHECK(health::stopped_state('T'));
  CHECK(health::stopped_state('t'));
  CHECK_FALSE(health::stopped_state('S'));
  CHECK_FALSE(health::stopped_state('R'));
  CHECK_FALSE(health::stopped_state('D'));
}

TEST_CASE("process checker: a stopped process fails the runs, down at once on the first; continued, it passes") {
  boost::asio::io_context io;
  TempDir dir;
  const auto pidfile = dir.path / "server.pid";
  Sleeper server;
  write_file(pidfile, std::to_string(server.pid));
  health::ProcessChecker checker(io, health::ProcessCheckSpec{pidfile.string(), ""});
  std::vector<std::string> downs;
  checker.on_exit([&](std::string reason) { downs.push_back(std::move(reason)); });
  CHECK(run_once(io, checker).pass);

  stop_child(server.pid);
  const std::string stopped = "process " + std::to_string(server.pid) + " (from " + pidfile.string() +
                              ") stopped (state T): it answers nothing until continued";
  auto r = run_once(io, checker);
  CHECK_FALSE(r.pass);
  CHECK(r.reason == stopped);
  REQUIRE(downs.size() == 1);
  CHECK(downs[0] == stopped);
  r = run_once(io, checker);  // still stopped: fails, but the service is down already
  CHECK_FALSE(r.pass);
  CHECK(downs.size() == 1);
  CHECK(checker.watched_pid() == server.pid);  // the same process, still watched

  REQUIRE(::kill(server.pid, SIGCONT) == 0);
  CHECK(run_once(io, checker).pass);
  stop_child(server.pid);  // a second stop is down at once again
  CHECK_FALSE(run_once(io, checker).pass);
  CHECK(downs.size() == 2);
  REQUIRE(::kill(server.pid, SIGCONT) == 0);
}

TEST_CASE("process checker: watches the pidfile's process, reports its exit at once, re-reads the pidfile") {
  boost::asio::io_context io;
  TempDir dir;
  const auto pidfile = dir.path / "server.pid";
  health::ProcessChecker checker(io, health::ProcessCheckSpec{pidfile.string(), ""});
  std::vector<std::string> exits;
  checker.on_exit([&](std::string reason) { exits.push_back(std::move(reason)); });
  const std::string where = " (from " + pidfile.string() + ")";

  // No pidfile, then a bad one: failures that say why.
  auto r = run_once(io, checker);
  CHECK_FALSE(r.pass);
  CHECK(r.reason == "cannot read " + pidfile.string() + ": No such file or directory");
  write_file(pidfile, "unbound\n");
  r = run_once(io, checker);
  CHECK_FALSE(r.pass);
  CHECK(r.reason == pidfile.string() + ": not a PID: \"unbound\"");

  Sleeper first;
  write_file(pidfile, std::to_string(first.pid) + "\n");
  r = run_once(io, checker);
  CHECK(r.pass);
  CHECK(r.reason == "process " + std::to_string(first.pid) + where + " running");
  CHECK(checker.watched_pid() == first.pid);
  CHECK(run_once(io, checker).pass);  // still alive: the next run passes from the watch

  // Killed: the exit arrives by itself, with no run started.
  const pid_t old = first.pid;
  ::kill(first.pid, SIGKILL);
  run_until(io, [&] { return !exits.empty(); });
  REQUIRE(exits.size() == 1);
  CHECK(exits[0] == "process " + std::to_string(old) + where + " exited");
  CHECK_FALSE(checker.watched_pid().has_value());
  first.kill_and_reap();

  // The stale pidfile names a gone process; a restarted server writes a new one.
  r = run_once(io, checker);
  CHECK_FALSE(r.pass);
  CHECK(r.reason == "process " + std::to_string(old) + where + " not running");
  Sleeper second;
  write_file(pidfile, std::to_string(second.pid));
  r = run_once(io, checker);
  CHECK(r.pass);
  CHECK(checker.watched_pid() == second.pid);

  // Once stopped, an exit is no longer reported.
  checker.stop_watching();
  second.kill_and_reap();
  io.restart();
  io.run_for(50ms);
  CHECK(exits.size() == 1);
}

TEST_CASE("process checker: a killed but unreaped process (zombie) counts as gone") {
  boost::asio::io_context io;
  TempDir dir;
  const auto pidfile = dir.path / "server.pid";
  Sleeper child;
  ::kill(child.pid, SIGKILL);
  // Wait (bounded) until the child is a zombie: waitid with WNOWAIT leaves it unreaped.
  siginfo_t info{};
  REQUIRE(::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED | WNOWAIT) == 0);
  write_file(pidfile, std::to_string(child.pid));
  health::ProcessChecker checker(io, health::ProcessCheckSpec{pidfile.string(), ""});
  const auto r = run_once(io, checker);
  CHECK_FALSE(r.pass);
  CHECK(r.reason.find(" not running") != std::string::npos);
}

TEST_CASE("monitor: a watched process's exit takes its service down before any further round") {
  boost::asio::io_context io;
  TempDir dir;
  const auto pidfile = dir.path / "server.pid";
  Sleeper server;
  write_file(pidfile, std::to_string(server.pid));

  // No second round during this test (60 s): only the watch can notice.
  const auto s = process_service(pidfile, 60s, 10);
  std::vector<std::string> events;
  health::Monitor mon = recording_monitor(io, s, events);
  int results = 0;
  mon.on_result([&](const std::string&, const std::string&, const health::CheckResult&) { ++results; });
  mon.start();
  run_until(io, [&] { return !events.empty(); });
  REQUIRE(events.size() == 1);
  CHECK(events[0].rfind("Down->Up: ", 0) == 0);
  CHECK(results == 1);

  const pid_t pid = server.pid;
  ::kill(server.pid, SIGKILL);
  run_until(io, [&] { return events.size() >= 2; });
  REQUIRE(events.size() == 2);
  CHECK(events[1] == "Up->Down: process " + pidfile.string() + ": process " + std::to_string(pid) +
                         " (from " + pidfile.string() + ") exited (down at once, not waiting for fall)");
  CHECK(results == 2);  // the exit itself, counted as a failed result; no round ran
  const auto snap = mon.snapshot();
  REQUIRE(snap.size() == 1);
  REQUIRE(snap[0].checks[0].last.has_value());
  CHECK_FALSE(snap[0].checks[0].last->pass);
  mon.stop();
  server.kill_and_reap();
}

TEST_CASE("monitor: a stopped server takes its service down at the next round, whatever fall says") {
  boost::asio::io_context io;
  TempDir dir;
  const auto pidfile = dir.path / "server.pid";
  Sleeper server;
  write_file(pidfile, std::to_string(server.pid));

  // fall 1000: failed rounds alone would take 20 s; only the stop can take it down.
  const auto s = process_service(pidfile, 20ms, 1000);
  std::vector<std::string> events;
  health::Monitor mon = recording_monitor(io, s, events);
  mon.start();
  run_until(io, [&] { return !events.empty(); });
  REQUIRE(events.size() == 1);
  CHECK(events[0].rfind("Down->Up: ", 0) == 0);

  stop_child(server.pid);
  run_until(io, [&] { return events.size() >= 2; });
  REQUIRE(events.size() == 2);
  CHECK(events[1] == "Up->Down: process " + pidfile.string() + ": process " + std::to_string(server.pid) +
                         " (from " + pidfile.string() +
                         ") stopped (state T): it answers nothing until continued (down at once, not waiting for fall)");
  REQUIRE(::kill(server.pid, SIGCONT) == 0);
  run_until(io, [&] { return events.size() >= 3; });  // continued: up again after rise (1) round
  REQUIRE(events.size() == 3);
  CHECK(events[2].rfind("Down->Up: ", 0) == 0);
  mon.stop();
  server.kill_and_reap();
}

// The Asio runner with real processes on a real io_context (no network): a slow check must not
// delay another service, stop() must silence callbacks, replace() must keep unchanged services.
#include <doctest/doctest.h>

#include <chrono>
#include <map>

#include "health/monitor.hpp"

namespace health = herald::health;

using namespace std::chrono_literals;
using health::ServiceState;

namespace {

health::ServiceSpec exec_service(const std::string& name, std::vector<std::string> argv,
                                 health::Duration interval, health::Duration timeout) {
  health::ServiceSpec s;
  s.name = name;
  s.policy.interval = interval;
  s.policy.fast_interval = interval;
  s.policy.timeout = timeout;
  s.policy.rise = 1;
  s.policy.fall = 1;
  s.policy.splay = 0ms;
  s.policy.flap.enabled = false;
  s.checks.push_back(health::ExecCheckSpec{std::move(argv), std::nullopt});
  return s;
}

}  // namespace

TEST_CASE("a slow check does not delay another service") {
  boost::asio::io_context io;
  std::map<std::string, std::chrono::steady_clock::time_point> up_at;
  const auto t0 = std::chrono::steady_clock::now();
  health::Monitor mon(io,
                      {exec_service("slow", {"/bin/sleep", "30"}, 50ms, 40s),
                       exec_service("fast", {"/bin/true"}, 20ms, 1s)},
                      [&](const health::ServiceStatus& st, ServiceState) {
                        if (st.state == ServiceState::Up) up_at.emplace(st.name, std::chrono::steady_clock::now());
                      });
  mon.start();
  // The slow check cannot end before 30 s: "fast" coming up first shows it was not held back,
  // however loaded the machine is.
  for (int i = 0; i < 200 && up_at.count("fast") == 0; ++i) io.run_for(50ms);
  REQUIRE(up_at.count("fast") == 1);
  CHECK(up_at["fast"] - t0 < 30s);
  CHECK(up_at.count("slow") == 0);
  const auto snap = mon.snapshot();
  REQUIRE(snap.size() == 2);
  CHECK(snap[0].name == "fast");
  CHECK(snap[0].state == ServiceState::Up);
  REQUIRE(snap[0].checks[0].last.has_value());
  CHECK(snap[0].checks[0].last->reason == "exit 0");
  CHECK(snap[1].name == "slow");
  CHECK_FALSE(snap[1].checks[0].last.has_value());  // still sleeping
  mon.stop();
  io.restart();
  io.run_for(300ms);  // the killed sleep is reaped through its pidfd
}

TEST_CASE("failing exec takes a service down with the exit status as reason; stop silences it") {
  boost::asio::io_context io;
  std::vector<std::string> events;
  health::ServiceSpec s = exec_service("svc", {"/bin/sh", "-c", "echo broken; exit 2"}, 30ms, 1s);
  s.policy.start_up = true;
  health::Monitor mon(io, {s}, [&](const health::ServiceStatus& st, ServiceState prev) {
    events.push_back(std::string(health::to_string(prev)) + "->" + health::to_string(st.state) + ": " + st.reason);
  });
  mon.start();
  for (int i = 0; i < 100 && events.empty(); ++i) io.run_for(20ms);
  REQUIRE(events.size() == 1);
  CHECK(events[0] == "Up->Down: exec /bin/sh: exit 2: broken (1 failing round(s))");
  mon.stop();
  io.restart();
  io.run_for(100ms);
  CHECK(events.size() == 1);
}

TEST_CASE("replace keeps unchanged services and carries the state of changed ones") {
  boost::asio::io_context io;
  int changes = 0;
  auto a = exec_service("a", {"/bin/true"}, 20ms, 1s);
  auto b = exec_service("b", {"/bin/true"}, 20ms, 1s);
  health::Monitor mon(io, {a, b}, [&](const health::ServiceStatus&, ServiceState) { ++changes; });
  mon.start();
  for (int i = 0; i < 100 && changes < 2; ++i) io.run_for(20ms);
  REQUIRE(changes == 2);
  const auto since_a = mon.snapshot()[0].since.steady;
  auto b2 = b;
  b2.policy.rise = 5;  // changed: restarts its schedule but stays Up
  auto c = exec_service("c", {"/bin/true"}, 20ms, 1s);
  mon.replace({a, b2, c});
  const auto snap = mon.snapshot();
  REQUIRE(snap.size() == 3);
  CHECK(snap[0].since.steady == since_a);  // untouched
  CHECK(snap[1].state == ServiceState::Up);
  CHECK(snap[1].reason == "state kept across reload");
  CHECK(snap[2].state == ServiceState::Down);
  mon.replace({c});
  CHECK(mon.snapshot().size() == 1);
  mon.stop();
  io.restart();
  io.run_for(100ms);
}

TEST_CASE("validate_service names the problem") {
  auto s = exec_service("x", {"/bin/true"}, 20ms, 1s);
  CHECK(health::validate_service(s).has_value());
  s.policy.rise = 0;
  CHECK(health::validate_service(s).error() == "service \"x\": rise and fall must be at least 1");
  s = exec_service("x", {"/bin/true"}, 20ms, 1s);
  health::DnsCheckSpec d;
  d.server = "not-an-ip";
  s.checks.push_back(d);
  CHECK(health::validate_service(s).error() == "service \"x\": dns not-an-ip:53 . SOA: bad DNS server address 'not-an-ip'");
  // Named checks: the problem names the check; names must match the checks and be unique.
  s.check_names = {"true", "soa"};
  CHECK(health::validate_service(s).error() == "service \"x\": check \"soa\": bad DNS server address 'not-an-ip'");
  s.check_names = {"soa", "soa"};
  CHECK(health::validate_service(s).error() == "service \"x\": check name \"soa\" empty or given twice");
  s.check_names = {"soa"};
  CHECK(health::validate_service(s).error() == "service \"x\": check names do not match the checks");
}

TEST_CASE("a restored flap hold keeps a passing service down, survives replace, and clear ends it") {
  boost::asio::io_context io;
  std::vector<health::ServiceStatus> events;
  auto s = exec_service("svc", {"/bin/true"}, 20ms, 1s);
  s.policy.flap = {true, 4, 60s, 30s, 600s};
  health::Monitor mon(io, {s}, [&](const health::ServiceStatus& st, ServiceState) { events.push_back(st); });
  const auto until = std::chrono::system_clock::now() + 60s;
  CHECK_FALSE(mon.restore_flap_hold("nosuch", {until, 120s}));
  CHECK_FALSE(mon.restore_flap_hold("svc", {std::chrono::system_clock::now() - 1s, 120s}));  // over
  CHECK(events.empty());
  REQUIRE(mon.restore_flap_hold("svc", {until, 120s}));
  REQUIRE(events.size() == 1);
  CHECK(events[0].state == ServiceState::Down);
  REQUIRE(events[0].flap_hold_until.has_value());
  CHECK(events[0].flap_next_hold == 120s);
  mon.start();
  // The check passes round after round; the service stays held.
  auto passes = [&] {
    const auto snap = mon.snapshot();
    return snap[0].checks[0].last && snap[0].checks[0].last->pass;
  };
  for (int i = 0; i < 100 && !passes(); ++i) io.run_for(20ms);
  REQUIRE(passes());
  io.run_for(100ms);
  CHECK(events.size() == 1);
  CHECK(mon.snapshot()[0].state == ServiceState::Down);
  CHECK(mon.snapshot()[0].flap_next_hold == 120s);
  // A reload that changes the service keeps its hold.
  auto s2 = s;
  s2.policy.rise = 2;
  mon.replace({s2});
  REQUIRE(mon.snapshot()[0].flap_hold_until.has_value());
  CHECK(mon.snapshot()[0].flap_next_hold == 120s);
  for (int i = 0; i < 100 && !passes(); ++i) io.run_for(20ms);
  io.run_for(100ms);  // rise 2 reached behind the hold
  CHECK(mon.snapshot()[0].state == ServiceState::Down);
  // The operator ends it: the healthy service comes up at once.
  CHECK_FALSE(mon.clear_flap_hold("nosuch"));
  const auto before = events.size();
  REQUIRE(mon.clear_flap_hold("svc"));
  REQUIRE(events.size() == before + 1);
  CHECK(events.back().state == ServiceState::Up);
  CHECK_FALSE(events.back().flap_hold_until.has_value());
  CHECK(events.back().reason.rfind("flap hold cleared by the operator; ", 0) == 0);
  CHECK_FALSE(mon.snapshot()[0].flap_hold_until.has_value());
  CHECK_FALSE(mon.clear_flap_hold("svc"));  // nothing left to clear
  mon.stop();
  io.restart();
  io.run_for(100ms);
}

TEST_CASE("status: a service's start state is reported before any round, and after replace") {
  boost::asio::io_context io;
  auto down = exec_service("down", {"/bin/true"}, 1h, 1s);
  auto up = exec_service("up", {"/bin/true"}, 1h, 1s);
  up.policy.start_up = true;
  health::Monitor mon(io, {down, up}, [](const health::ServiceStatus&, ServiceState) {});
  // Not started: no round has run, the states are the configured start states.
  REQUIRE(mon.status("down"));
  CHECK(mon.status("down")->state == ServiceState::Down);
  CHECK(mon.status("down")->reason == "starting: down until 1 passing round(s)");
  REQUIRE(mon.status("up"));
  CHECK(mon.status("up")->state == ServiceState::Up);
  CHECK(mon.status("up")->reason == "start state up (configured)");
  CHECK_FALSE(mon.status("absent"));
  auto up2 = up;
  up2.policy.rise = 3;
  mon.replace({up2});
  CHECK_FALSE(mon.status("down"));
  CHECK(mon.status("up")->reason == "state kept across reload");
}

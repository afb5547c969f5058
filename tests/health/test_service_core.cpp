// The pure scheduler/hysteresis core, driven with a fake clock: no sleeps, no sockets.
#include <doctest/doctest.h>

#include <set>

#include "health/service_core.hpp"

namespace health = herald::health;

using namespace std::chrono_literals;
using health::CheckResult;
using health::ServiceCore;
using health::ServiceState;

namespace {

// A fake clock: both time lines start at fixed points and move together.
struct FakeClock {
  health::Instant now{std::chrono::steady_clock::time_point{} + 1000s,
                      std::chrono::system_clock::from_time_t(1'800'000'000)};  // 2027-01-15T08:00:00Z
  void advance(health::Duration d) { now = now + d; }
};

health::DnsCheckSpec dns() {
  health::DnsCheckSpec d;
  d.server = "192.0.2.53";
  d.qname = "www.example.";
  d.qtype = "A";
  return d;
}

health::ServiceSpec service(unsigned rise, unsigned fall, bool start_up = false) {
  health::ServiceSpec s;
  s.name = "dns";
  s.policy.interval = 2s;
  s.policy.fast_interval = 500ms;
  s.policy.timeout = 1s;
  s.policy.rise = rise;
  s.policy.fall = fall;
  s.policy.start_up = start_up;
  s.policy.flap.enabled = false;
  s.checks = {dns()};
  return s;
}

CheckResult ok() { return {true, 3ms, "rcode NOERROR", false}; }
CheckResult servfail() { return {false, 3ms, "rcode SERVFAIL", false}; }

// Waits (on the fake clock) until the core wants to start a round, then reports `results`
// 3 ms later. Returns the state changes of that round.
std::vector<health::StateChange> round(ServiceCore& core, FakeClock& clock,
                                       const std::vector<CheckResult>& results) {
  clock.now.steady = std::max(clock.now.steady, core.next_wakeup());
  auto a = core.advance(clock.now);
  REQUIRE(a.start_round.has_value());
  auto changes = a.changes;
  clock.advance(3ms);
  for (std::size_t i = 0; i < results.size(); ++i) {
    auto r = core.on_result(*a.start_round, i, results[i], clock.now);
    changes.insert(changes.end(), r.changes.begin(), r.changes.end());
  }
  return changes;
}

}  // namespace

TEST_CASE("starts down and rises after `rise` passing rounds") {
  FakeClock clock;
  ServiceCore core(service(2, 3), clock.now, 0s);
  CHECK(core.state() == ServiceState::Down);
  CHECK(core.reason().find("down until 2 passing") != std::string::npos);
  CHECK(round(core, clock, {ok()}).empty());
  auto ch = round(core, clock, {ok()});
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].from == ServiceState::Down);
  CHECK(ch[0].to == ServiceState::Up);
  CHECK(ch[0].reason.find("rcode NOERROR (2 passing round(s))") != std::string::npos);
  CHECK(core.state() == ServiceState::Up);
  CHECK(core.since().steady == clock.now.steady);
}

TEST_CASE("a failure between passes resets the rise count") {
  FakeClock clock;
  ServiceCore core(service(2, 3), clock.now, 0s);
  CHECK(round(core, clock, {ok()}).empty());
  CHECK(round(core, clock, {servfail()}).empty());
  CHECK(round(core, clock, {ok()}).empty());
  CHECK(round(core, clock, {ok()}).size() == 1);
}

TEST_CASE("start state up falls after `fall` failing rounds with the failure as reason") {
  FakeClock clock;
  ServiceCore core(service(2, 3, true), clock.now, 0s);
  CHECK(core.state() == ServiceState::Up);
  CHECK(round(core, clock, {servfail()}).empty());
  CHECK(round(core, clock, {servfail()}).empty());
  auto ch = round(core, clock, {servfail()});
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == ServiceState::Down);
  CHECK(ch[0].reason == "dns 192.0.2.53:53 www.example. A: rcode SERVFAIL (3 failing round(s))");
  REQUIRE(core.last_results()[0].has_value());
  CHECK(core.last_results()[0]->reason == "rcode SERVFAIL");
}

TEST_CASE("a named check is called by its name in reasons") {
  FakeClock clock;
  auto spec = service(1, 1, true);
  spec.checks.push_back(health::TcpCheckSpec{"192.0.2.53", 53});
  spec.check_names = {"soa", "tcp"};
  CHECK(health::check_name(spec, 0) == "soa");
  CHECK(health::check_label(spec, 1) == "check \"tcp\"");
  ServiceCore core(spec, clock.now, 0s);
  auto ch = round(core, clock, {ok(), servfail()});
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].reason == "check \"tcp\": rcode SERVFAIL (1 failing round(s))");
  // Unnamed (tests, drivers): the check's description stands for its name.
  CHECK(health::check_name(service(1, 1), 0) == "dns 192.0.2.53:53 www.example. A");
}

TEST_CASE("fast interval while a change is pending, normal interval otherwise") {
  FakeClock clock;
  ServiceCore core(service(2, 3, true), clock.now, 0s);
  auto start = clock.now.steady;
  round(core, clock, {ok()});
  CHECK(core.next_wakeup() == start + 2s);  // stable: interval counted from round start
  start = core.next_wakeup();
  round(core, clock, {servfail()});
  CHECK(core.next_wakeup() == start + 500ms);  // Up with one failure: hurry to confirm
  start = core.next_wakeup();
  round(core, clock, {ok()});
  CHECK(core.next_wakeup() == start + 2s);  // streak broken: back to normal
}

TEST_CASE("rounds follow a grid: a round started late does not move the next one") {
  FakeClock clock;
  ServiceCore core(service(2, 3, true), clock.now, 0s);
  const auto grid = clock.now.steady;
  for (int i = 1; i <= 5; ++i) {
    // Each round starts 7 ms after it was due (a busy loop); it is still due on the grid.
    clock.now.steady = core.next_wakeup() + 7ms;
    auto a = core.advance(clock.now);
    REQUIRE(a.start_round);
    clock.advance(3ms);
    core.on_result(*a.start_round, 0, ok(), clock.now);
    CHECK(core.next_wakeup() == grid + i * 2s);
  }
}

TEST_CASE("rounds follow a grid: a round more than an interval late starts a new one") {
  FakeClock clock;
  ServiceCore core(service(2, 3, true), clock.now, 0s);
  round(core, clock, {ok()});
  // The process was stopped for 10 s: one round now, then every 2 s from it, no catching up.
  clock.now.steady = core.next_wakeup() + 10s;
  const auto restart = clock.now.steady;
  auto a = core.advance(clock.now);
  REQUIRE(a.start_round);
  clock.advance(3ms);
  core.on_result(*a.start_round, 0, ok(), clock.now);
  CHECK(core.next_wakeup() == restart + 2s);
}

TEST_CASE("splay delays the first round only") {
  FakeClock clock;
  ServiceCore core(service(1, 1), clock.now, 700ms);
  CHECK(core.next_wakeup() == clock.now.steady + 700ms);
  CHECK_FALSE(core.advance(clock.now + 699ms).start_round.has_value());
  clock.advance(700ms);
  auto a = core.advance(clock.now);
  CHECK(a.start_round.has_value());
}

TEST_CASE("a check that does not report is cut at the timeout and late results are ignored") {
  FakeClock clock;
  ServiceCore core(service(1, 1, true), clock.now, 0s);
  auto a = core.advance(clock.now);
  REQUIRE(a.start_round);
  CHECK(core.next_wakeup() == clock.now.steady + 1s);
  auto early = core.advance(clock.now + 999ms);
  CHECK_FALSE(early.cancel_round);
  clock.advance(1s);
  auto late = core.advance(clock.now);
  CHECK(late.cancel_round);
  REQUIRE(late.changes.size() == 1);
  CHECK(late.changes[0].to == ServiceState::Down);
  CHECK(late.changes[0].reason.find("timeout after 1s") != std::string::npos);
  // The answer of the cut round arrives afterwards: no effect.
  CHECK(core.on_result(*a.start_round, 0, ok(), clock.now).changes.empty());
  CHECK(core.state() == ServiceState::Down);
}

TEST_CASE("an exec check's own timeout extends the round deadline") {
  FakeClock clock;
  auto s = service(1, 1, true);
  health::ExecCheckSpec e;
  e.argv = {"/bin/true"};
  e.timeout = 3s;
  s.checks.push_back(e);
  ServiceCore core(s, clock.now, 0s);
  auto a = core.advance(clock.now);
  REQUIRE(a.start_round);
  CHECK(core.next_wakeup() == clock.now.steady + 3s);
  core.on_result(*a.start_round, 0, ok(), clock.now + 2ms);
  clock.advance(3s);
  auto late = core.advance(clock.now);
  REQUIRE(late.changes.size() == 1);
  CHECK(late.changes[0].reason.find("exec /bin/true: timeout after 3s") != std::string::npos);
}

TEST_CASE("all needs every check, any needs one") {
  FakeClock clock;
  auto s = service(1, 1, true);
  s.checks.push_back(health::TcpCheckSpec{"192.0.2.53", 53});
  SUBCASE("all") {
    ServiceCore core(s, clock.now, 0s);
    auto ch = round(core, clock, {ok(), {false, 1ms, "connection refused", false}});
    REQUIRE(ch.size() == 1);
    CHECK(ch[0].reason.find("tcp 192.0.2.53:53: connection refused") != std::string::npos);
  }
  SUBCASE("any") {
    s.policy.combine = health::Combine::Any;
    ServiceCore core(s, clock.now, 0s);
    CHECK(round(core, clock, {ok(), {false, 1ms, "connection refused", false}}).empty());
    auto ch = round(core, clock, {servfail(), {false, 1ms, "connection refused", false}});
    REQUIRE(ch.size() == 1);
    CHECK(ch[0].reason.find("rcode SERVFAIL; tcp 192.0.2.53:53: connection refused") != std::string::npos);
  }
}

TEST_CASE("maintenance file drains at once and undrains to the health state") {
  FakeClock clock;
  auto s = service(2, 2, true);
  s.checks.push_back(health::MaintenanceFileSpec{"/run/herald/maintenance"});
  s.policy.combine = health::Combine::Any;  // the absent-file result must not count as a pass
  ServiceCore core(s, clock.now, 0s);
  CheckResult present{true, 0ms, "file exists", true};
  CheckResult absent{true, 0ms, "file absent", false};
  auto ch = round(core, clock, {ok(), present});
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == ServiceState::Drained);
  CHECK(ch[0].reason == "maintenance /run/herald/maintenance: file exists");
  ch = round(core, clock, {ok(), absent});
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == ServiceState::Up);
  // Absent file + failing DNS under "any": the maintenance result is not a passing check.
  round(core, clock, {servfail(), absent});
  ch = round(core, clock, {servfail(), absent});
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == ServiceState::Down);
}

TEST_CASE("health keeps being tracked while drained") {
  FakeClock clock;
  auto s = service(1, 1, true);
  s.checks.push_back(health::MaintenanceFileSpec{"/m"});
  ServiceCore core(s, clock.now, 0s);
  CheckResult present{true, 0ms, "file exists", true};
  CheckResult absent{true, 0ms, "file absent", false};
  round(core, clock, {ok(), present});
  CHECK(round(core, clock, {servfail(), present}).empty());  // still Drained
  auto ch = round(core, clock, {servfail(), absent});
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].from == ServiceState::Drained);
  CHECK(ch[0].to == ServiceState::Down);
}

TEST_CASE("flapping holds the service down for a doubling, capped period") {
  FakeClock clock;
  auto s = service(1, 1);
  s.policy.flap = {true, 2, 60s, 10s, 25s};
  ServiceCore core(s, clock.now, 0s);
  CHECK(round(core, clock, {ok()}).size() == 1);        // toggle 1: Up
  CHECK(round(core, clock, {servfail()}).size() == 1);  // toggle 2: Down
  auto ch = round(core, clock, {ok()});                 // toggle 3 > 2 in 60s: held
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].from == ServiceState::Down);
  CHECK(ch[0].to == ServiceState::Down);
  REQUIRE(ch[0].flap_hold_until.has_value());
  CHECK(ch[0].flap_hold_until->steady == clock.now.steady + 10s);
  CHECK(ch[0].reason.rfind("down (flap hold until 2027-01-15T08:00:", 0) == 0);
  CHECK(ch[0].reason.find("3 changes within 1m") == std::string::npos);  // durations print as s
  CHECK(ch[0].reason.find("3 changes within 60s") != std::string::npos);
  CHECK(core.state() == ServiceState::Down);
  // Passing rounds during the hold do not bring it up.
  CHECK(round(core, clock, {ok()}).empty());
  const auto hold_end = core.flap_hold_until()->steady;
  CHECK(core.next_wakeup() <= hold_end);
  clock.now.steady = hold_end;
  auto a = core.advance(clock.now);
  REQUIRE_FALSE(a.changes.empty());
  CHECK(a.changes[0].to == ServiceState::Up);
  CHECK(a.changes[0].reason.rfind("flap hold ended", 0) == 0);
  CHECK_FALSE(core.flap_hold_until().has_value());
  if (a.start_round) core.on_result(*a.start_round, 0, ok(), clock.now);
  // Flap again at once: the hold doubles to 20s, then is capped at 25s.
  round(core, clock, {servfail()});
  round(core, clock, {ok()});
  ch = round(core, clock, {servfail()});
  REQUIRE(core.flap_hold_until().has_value());
  CHECK(core.flap_hold_until()->steady == clock.now.steady + 20s);
  clock.now.steady = core.flap_hold_until()->steady;
  a = core.advance(clock.now);
  if (a.start_round) core.on_result(*a.start_round, 0, servfail(), clock.now);
  round(core, clock, {ok()});
  round(core, clock, {servfail()});
  round(core, clock, {ok()});
  REQUIRE(core.flap_hold_until().has_value());
  CHECK(core.flap_hold_until()->steady == clock.now.steady + 25s);
}

TEST_CASE("flapping during a hold neither extends nor doubles it: one doubling per hold") {
  // The defaults' shape (hold 30s doubling up to 10m): before, every burst beyond max-changes
  // during a hold doubled it again, and 30s became 10m within about 10s of flapping.
  FakeClock clock;
  auto s = service(1, 1);
  s.policy.flap = {true, 2, 60s, 30s, 600s};
  ServiceCore core(s, clock.now, 0s);
  round(core, clock, {ok()});
  round(core, clock, {servfail()});
  round(core, clock, {ok()});  // third change in the window: held
  REQUIRE(core.flap_hold_until().has_value());
  const auto first_end = core.flap_hold_until()->steady;
  CHECK(first_end == clock.now.steady + 30s);
  // Ten seconds of flapping, one change per round, while the hold runs.
  const auto burst_end = clock.now.steady + 10s;
  for (int i = 0; i < 100 && clock.now.steady < burst_end; ++i)
    round(core, clock, {i % 2 == 0 ? servfail() : ok()});
  REQUIRE(core.flap_hold_until().has_value());
  CHECK(core.flap_hold_until()->steady == first_end);
  CHECK(core.flap_hold()->next_hold == 60s);
  CHECK(core.state() == ServiceState::Down);
  // The hold ends on time; flapping on starts the next hold, twice as long (not 10 minutes).
  clock.now.steady = first_end;
  auto a = core.advance(clock.now);
  CHECK_FALSE(core.flap_hold_until().has_value());
  if (a.start_round) core.on_result(*a.start_round, 0, servfail(), clock.now);
  for (int i = 0; i < 10 && !core.flap_hold_until(); ++i) round(core, clock, {i % 2 == 0 ? ok() : servfail()});
  REQUIRE(core.flap_hold_until().has_value());
  CHECK(core.flap_hold_until()->steady == clock.now.steady + 60s);
  CHECK(core.flap_hold()->next_hold == 120s);
}

TEST_CASE("a persisted flap hold is restored after a restart and ends at its time") {
  FakeClock clock;
  auto s = service(1, 1, true);
  s.policy.flap = {true, 2, 60s, 30s, 600s};
  ServiceCore core(s, clock.now, 0s);
  CHECK_FALSE(core.flap_hold().has_value());
  // Saved before the restart: held until 40s from now, next hold 2m.
  auto a = core.restore_flap_hold({clock.now.wall + 40s, 120s}, clock.now);
  REQUIRE(a.changes.size() == 1);
  CHECK(a.changes[0].to == ServiceState::Down);
  REQUIRE(a.changes[0].flap_hold_until.has_value());
  CHECK(a.changes[0].flap_hold_until->steady == clock.now.steady + 40s);
  CHECK(a.changes[0].reason.rfind("down (flap hold until 2027-01-15T08:00:40Z): flap hold carried over", 0) == 0);
  REQUIRE(core.flap_hold().has_value());
  CHECK(*core.flap_hold() == health::FlapHold{clock.now.wall + 40s, 120s});
  // A healthy server stays withdrawn until the hold's end, then comes up.
  CHECK(round(core, clock, {ok()}).empty());
  CHECK(core.state() == ServiceState::Down);
  CHECK(core.next_wakeup() <= clock.now.steady + 40s);
  clock.now.steady = core.flap_hold_until()->steady;
  clock.now.wall = clock.now.wall + 39s;
  a = core.advance(clock.now);
  REQUIRE_FALSE(a.changes.empty());
  CHECK(a.changes[0].to == ServiceState::Up);
  CHECK_FALSE(core.flap_hold().has_value());
  if (a.start_round) core.on_result(*a.start_round, 0, ok(), clock.now);
  // The escalation went on from where it was: the next hold is the persisted 2m.
  for (int i = 0; i < 10 && !core.flap_hold_until(); ++i) round(core, clock, {i % 2 == 0 ? servfail() : ok()});
  REQUIRE(core.flap_hold_until().has_value());
  CHECK(core.flap_hold_until()->steady == clock.now.steady + 120s);
}

TEST_CASE("restoring a flap hold: one that ended is dropped, a too long one is cut to max-hold") {
  FakeClock clock;
  auto s = service(1, 1, true);
  s.policy.flap = {true, 2, 60s, 30s, 600s};
  ServiceCore ended(s, clock.now, 0s);
  CHECK(ended.restore_flap_hold({clock.now.wall - 1s, 60s}, clock.now).changes.empty());
  CHECK(ended.restore_flap_hold({clock.now.wall, 60s}, clock.now).changes.empty());
  CHECK(ended.state() == ServiceState::Up);
  CHECK_FALSE(ended.flap_hold().has_value());
  ServiceCore edited(s, clock.now, 0s);
  edited.restore_flap_hold({clock.now.wall + 24h, 24h}, clock.now);
  REQUIRE(edited.flap_hold_until().has_value());
  CHECK(edited.flap_hold_until()->steady == clock.now.steady + 600s);
  CHECK(edited.flap_hold()->next_hold == 600s);
  // Flap control disabled in the config: nothing is held.
  s.policy.flap.enabled = false;
  ServiceCore off(s, clock.now, 0s);
  CHECK(off.restore_flap_hold({clock.now.wall + 40s, 60s}, clock.now).changes.empty());
  CHECK_FALSE(off.flap_hold().has_value());
}

TEST_CASE("the operator clears a flap hold: the service follows its health and escalation restarts") {
  FakeClock clock;
  auto s = service(1, 1);
  s.policy.flap = {true, 2, 60s, 30s, 600s};
  ServiceCore core(s, clock.now, 0s);
  CHECK_FALSE(core.clear_flap_hold(clock.now).has_value());  // nothing to clear
  round(core, clock, {ok()});
  round(core, clock, {servfail()});
  round(core, clock, {ok()});
  REQUIRE(core.flap_hold_until().has_value());
  CHECK(core.flap_hold()->next_hold == 60s);
  clock.advance(1s);
  auto cleared = core.clear_flap_hold(clock.now);
  REQUIRE(cleared.has_value());
  REQUIRE(cleared->changes.size() == 1);
  CHECK(cleared->changes[0].from == ServiceState::Down);
  CHECK(cleared->changes[0].to == ServiceState::Up);
  CHECK_FALSE(cleared->changes[0].flap_hold_until.has_value());
  CHECK(cleared->changes[0].reason.rfind("flap hold cleared by the operator; ", 0) == 0);
  CHECK_FALSE(core.flap_hold().has_value());
  // The flapping before the clear is forgiven: three more changes start the first hold again.
  round(core, clock, {servfail()});
  round(core, clock, {ok()});
  CHECK_FALSE(core.flap_hold_until().has_value());
  round(core, clock, {servfail()});
  REQUIRE(core.flap_hold_until().has_value());
  CHECK(core.flap_hold_until()->steady == clock.now.steady + 30s);
}

TEST_CASE("changes spread beyond the window do not hold") {
  FakeClock clock;
  auto s = service(1, 1);
  s.policy.flap = {true, 2, 10s, 10s, 60s};
  s.policy.interval = 6s;
  s.policy.fast_interval = 6s;
  ServiceCore core(s, clock.now, 0s);
  for (int i = 0; i < 6; ++i) round(core, clock, {i % 2 == 0 ? ok() : servfail()});
  CHECK_FALSE(core.flap_hold_until().has_value());
}

TEST_CASE("a kept state survives a reload") {
  FakeClock clock;
  ServiceCore core(service(3, 3), clock.now, 0s, ServiceState::Up);
  CHECK(core.state() == ServiceState::Up);
  CHECK(core.reason() == "state kept across reload");
}

TEST_CASE("duplicate and out-of-range round reports are ignored") {
  FakeClock clock;
  auto s = service(1, 1);
  s.checks.push_back(health::TcpCheckSpec{"192.0.2.53", 53});
  ServiceCore core(s, clock.now, 0s);
  auto a = core.advance(clock.now);
  REQUIRE(a.start_round);
  CHECK(core.on_result(*a.start_round + 1, 0, ok(), clock.now).changes.empty());
  CHECK(core.on_result(*a.start_round, 0, ok(), clock.now).changes.empty());
  CHECK(core.on_result(*a.start_round, 0, servfail(), clock.now).changes.empty());  // first wins
  auto r = core.on_result(*a.start_round, 1, ok(), clock.now);
  REQUIRE(r.changes.size() == 1);
  CHECK(r.changes[0].to == ServiceState::Up);
}

// Issue #9's fast setting: 10 ms interval, fall 2, 20 ms timeout. A timeout above the interval
// is allowed; the rule is that rounds never overlap: the next starts at the later of (previous
// start + interval) and the end of the previous round.
namespace {
health::ServiceSpec fast_tolerant() {
  auto s = service(2, 2, true);
  s.policy.interval = 10ms;
  s.policy.fast_interval = 10ms;
  s.policy.timeout = 20ms;
  return s;
}
}  // namespace

TEST_CASE("timeout above the interval: a quick answer keeps the start-to-start interval") {
  FakeClock clock;
  ServiceCore core(fast_tolerant(), clock.now, 0s);
  const auto start = clock.now.steady;
  auto a = core.advance(clock.now);
  REQUIRE(a.start_round);
  CHECK(core.next_wakeup() == start + 20ms);  // while running: only the deadline matters
  clock.advance(3ms);
  core.on_result(*a.start_round, 0, ok(), clock.now);
  CHECK(core.next_wakeup() == start + 10ms);  // previous start + interval is the later one
  CHECK_FALSE(core.advance(clock.now + 6ms).start_round);
  CHECK(core.advance(health::Instant{start + 10ms, clock.now.wall}).start_round);
}

TEST_CASE("timeout above the interval: a slow answer delays the next probe to its completion") {
  FakeClock clock;
  ServiceCore core(fast_tolerant(), clock.now, 0s);
  auto a = core.advance(clock.now);
  REQUIRE(a.start_round);
  // The interval passes while the probe is outstanding: no second probe of the same check.
  clock.advance(10ms);
  auto due = core.advance(clock.now);
  CHECK_FALSE(due.start_round);
  CHECK_FALSE(due.cancel_round);
  clock.advance(5ms);  // answered after 15 ms: within the 20 ms timeout, a pass
  auto done = core.on_result(*a.start_round, 0, ok(), clock.now);
  CHECK(done.changes.empty());
  CHECK(core.last_results()[0]->pass);
  CHECK(core.next_wakeup() == clock.now.steady);  // completion is the later one: start at once
  auto next = core.advance(clock.now);
  REQUIRE(next.start_round);
  CHECK(*next.start_round == *a.start_round + 1);
}

TEST_CASE("timeout above the interval: probes that never answer fail every timeout") {
  FakeClock clock;
  ServiceCore core(fast_tolerant(), clock.now, 0s);
  const auto start = clock.now.steady;
  auto a = core.advance(clock.now);
  REQUIRE(a.start_round);
  // At the 20 ms deadline the round is cut and the next one starts in the same step.
  clock.advance(20ms);
  auto cut = core.advance(clock.now);
  CHECK(cut.cancel_round);
  CHECK(cut.changes.empty());  // fall 2: one failing round is not enough
  REQUIRE(cut.start_round);
  CHECK(*cut.start_round == *a.start_round + 1);
  CHECK(core.next_wakeup() == start + 40ms);
  // The first round's answer arriving now belongs to a finished round: ignored.
  CHECK(core.on_result(*a.start_round, 0, ok(), clock.now).changes.empty());
  clock.advance(20ms);
  auto second = core.advance(clock.now);
  CHECK(second.cancel_round);
  REQUIRE(second.changes.size() == 1);
  CHECK(second.changes[0].to == ServiceState::Down);
  CHECK(second.changes[0].at.steady == start + 40ms);
  CHECK(second.changes[0].reason.find("timeout after 20ms (2 failing round(s))") != std::string::npos);
  CHECK(second.start_round);  // checking goes on at the same pace
}

TEST_CASE("expedite: a failing service gets one early round, then the grid goes on") {
  FakeClock clock;
  auto spec = service(2, 1);
  spec.policy.fast_interval = 2s;  // one interval for every round: the grid is every 2 s
  ServiceCore core(spec, clock.now, 0s);
  const auto t0 = clock.now.steady;
  round(core, clock, {ok()});
  round(core, clock, {ok()});
  REQUIRE(core.state() == ServiceState::Up);
  // Healthy with nothing pending: a late answer changes nothing.
  clock.advance(500ms);
  core.expedite(clock.now);
  CHECK(core.next_wakeup() == t0 + 4s);
  // It fails (fall 1) in the round at t0 + 4 s.
  round(core, clock, {servfail()});
  REQUIRE(core.state() == ServiceState::Down);
  CHECK(core.next_wakeup() == t0 + 6s);
  // A late answer at t0 + 4.5 s: the next round is due now.
  clock.now.steady = t0 + 4500ms;
  core.expedite(clock.now);
  CHECK(core.next_wakeup() == t0 + 4500ms);
  // A second one before the early round ran: nothing more.
  core.expedite(clock.now);
  CHECK(core.next_wakeup() == t0 + 4500ms);
  auto a = core.advance(clock.now);
  REQUIRE(a.start_round);
  core.expedite(clock.now);  // while it runs: nothing
  clock.advance(3ms);
  core.on_result(*a.start_round, 0, ok(), clock.now);
  // The round after it is due on the grid (t0 + 6 s) but waits one fast interval after the early
  // round's pass (t0 + 4.503 s): both count towards the rise.
  CHECK(core.next_wakeup() == t0 + 4503ms + 2s);
  // At most one early round between two regular ones.
  clock.now.steady = t0 + 5s;
  core.expedite(clock.now);
  CHECK(core.next_wakeup() == t0 + 4503ms + 2s);
  // The regular round is the second pass: Up; it was due at t0 + 6 s, so the grid goes on.
  auto ch = round(core, clock, {ok()});
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == ServiceState::Up);
  CHECK(core.next_wakeup() == t0 + 8s);
  // After a regular round, an early one may come again (the service fails again first).
  round(core, clock, {servfail()});
  REQUIRE(core.state() == ServiceState::Down);
  clock.now.steady = t0 + 8500ms;
  core.expedite(clock.now);
  CHECK(core.next_wakeup() == t0 + 8500ms);
}

TEST_CASE("splay_offset: 32 evenly spaced offsets within the span, so services can share wake-ups") {
  using health::splay_offset;
  CHECK(splay_offset(0ms, 12345) == 0ms);
  CHECK(splay_offset(-5ms, 7) == 0ms);
  const health::Duration span = 256ms;
  std::set<health::Duration::rep> seen;
  for (std::uint64_t draw = 0; draw < 1000; ++draw) {
    const auto d = splay_offset(span, draw * 0x9E3779B97F4A7C15ull);
    CHECK(d >= 0ms);
    CHECK(d < span);
    CHECK(d % 8ms == 0ms);  // a multiple of span / 32
    seen.insert(d.count());
  }
  CHECK(seen.size() == 32);  // every slot used, no other offset
  // A span shorter than 32 ns has one slot per nanosecond.
  CHECK(splay_offset(health::Duration(5), 7) == health::Duration(2));
}

TEST_CASE("first_delay: services made at different moments that draw the same slot share instants") {
  using health::first_delay;
  const auto epoch = std::chrono::steady_clock::time_point{} + 1000s;
  const health::Duration span = 320ms;  // slots of 10 ms
  const std::uint64_t draw = 7;         // slot 7: 70 ms after the epoch, modulo 320 ms
  const auto a = epoch + 3us;
  const auto b = epoch + 51us;
  const auto c = epoch + 5s + 400ms;  // a reload much later
  CHECK(a + first_delay(span, epoch, a, draw) == epoch + 70ms);
  CHECK(b + first_delay(span, epoch, b, draw) == epoch + 70ms);
  CHECK(c + first_delay(span, epoch, c, draw) == epoch + 5s + 510ms);  // 17 spans + 70 ms
  for (const auto now : {a, b, c, epoch + 70ms, epoch + 71ms}) {
    const auto d = first_delay(span, epoch, now, draw);
    CHECK(d >= 0ms);
    CHECK(d < span);
  }
  CHECK(first_delay(0ms, epoch, a, draw) == 0ms);  // no splay: at once
}

// Issue #16 item 14: a DNS server frozen (SIGSTOP) with a timeout (1 s) above the interval
// (200 ms). When it resumes it answers the probe of the round in flight; that round passes and
// its successor, overdue since the round ran past the grid, must not start and pass a moment
// later: with rise 2 that would be two answers 1.4 ms apart.
TEST_CASE("rise after a freeze: the overdue round after a late pass waits one fast interval") {
  FakeClock clock;
  auto s = service(2, 2, true);
  s.policy.interval = 200ms;
  s.policy.fast_interval = 200ms;
  s.policy.timeout = 1s;
  ServiceCore core(s, clock.now, 0s);
  const auto t0 = clock.now.steady;
  auto a = core.advance(clock.now);
  REQUIRE(a.start_round);
  // Frozen: two rounds are cut at their 1 s deadline; fall 2 takes the service down.
  for (int i = 1; i <= 2; ++i) {
    clock.now.steady = core.next_wakeup();
    auto cut = core.advance(clock.now);
    CHECK(cut.cancel_round);
    REQUIRE(cut.start_round);  // overdue: the next round starts in the same step
    a = cut;
  }
  REQUIRE(core.state() == ServiceState::Down);
  CHECK(clock.now.steady == t0 + 2s);
  // Resumed at t0 + 2.7 s: the probe sent at t0 + 2 s is answered, the round passes (rise 1).
  clock.now.steady = t0 + 2700ms;
  CHECK(core.on_result(*a.start_round, 0, ok(), clock.now).changes.empty());
  const auto first_pass = clock.now.steady;
  // The next round was due at t0 + 2.2 s; it waits until one fast interval after that pass.
  CHECK(core.next_wakeup() == first_pass + 200ms);
  CHECK_FALSE(core.advance(health::Instant{first_pass + 1400us, clock.now.wall}).start_round);
  // It passes too (rise 2): Up, 203 ms after the first pass, not 1.4 ms.
  auto ch = round(core, clock, {ok()});
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == ServiceState::Up);
  CHECK(ch[0].at.steady - first_pass >= 200ms);
  CHECK(ch[0].reason.find("(2 passing round(s))") != std::string::npos);
  // That round started a new grid: the one after it is an interval later.
  CHECK(core.next_wakeup() == first_pass + 400ms);
}

TEST_CASE("rise 3 with slow and quick answers: every pass counted is a fast interval after the last") {
  FakeClock clock;
  auto s = service(3, 1);
  s.policy.interval = 200ms;
  s.policy.fast_interval = 100ms;
  s.policy.timeout = 1s;
  ServiceCore core(s, clock.now, 0s);
  // Answers after 150 ms (slower than the fast interval: the next round is overdue), then after
  // 1 ms, then 150 ms again.
  const std::vector<health::Duration> latency = {150ms, 1ms, 150ms};
  std::vector<std::chrono::steady_clock::time_point> passes;
  for (auto rtt : latency) {
    clock.now.steady = core.next_wakeup();
    auto a = core.advance(clock.now);
    REQUIRE(a.start_round);
    clock.advance(rtt);
    core.on_result(*a.start_round, 0, ok(), clock.now);
    passes.push_back(clock.now.steady);
  }
  CHECK(core.state() == ServiceState::Up);
  CHECK(passes[1] - passes[0] >= 100ms);
  CHECK(passes[2] - passes[1] >= 100ms);
}

TEST_CASE("rise on a quiet grid: the wait for the rise spacing does not move the grid") {
  FakeClock clock;
  auto s = service(3, 1);  // interval 2 s, fast interval 500 ms, rise 3
  ServiceCore core(s, clock.now, 0s);
  const auto t0 = clock.now.steady;
  // round() answers 3 ms after each start: each rising round starts 3 ms after its grid time
  // (one fast interval after the previous pass), and is still counted as due on the grid.
  round(core, clock, {ok()});
  CHECK(core.next_wakeup() == t0 + 503ms);
  // A late answer (expedite) cannot bring a counted round closer to the previous pass.
  core.expedite(health::Instant{t0 + 100ms, clock.now.wall});
  CHECK(core.next_wakeup() == t0 + 503ms);
  round(core, clock, {ok()});
  CHECK(core.next_wakeup() == t0 + 1006ms);
  auto ch = round(core, clock, {ok()});
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == ServiceState::Up);
  CHECK(core.next_wakeup() == t0 + 1s + 2s);  // healthy: back on the grid (due t0 + 1 s)
}

// Immediate down (ServiceCore::fail_now): a watched server process that exits cannot answer, so
// one event is enough; coming back still takes `rise` passing rounds.
namespace {

health::ServiceSpec dns_and_process(unsigned rise, unsigned fall) {
  health::ServiceSpec s = service(rise, fall);
  s.checks.push_back(health::ProcessCheckSpec{"/run/unbound.pid", ""});
  return s;
}

CheckResult alive() { return {true, 1ms, "process 1234 (from /run/unbound.pid) running", false}; }
CheckResult exited() { return {false, 0ms, "process 1234 (from /run/unbound.pid) exited", false}; }

}  // namespace

TEST_CASE("a process exit takes the service down at once, whatever fall is") {
  FakeClock clock;
  ServiceCore core(dns_and_process(2, 5), clock.now, 0s);
  CHECK(round(core, clock, {ok(), alive()}).empty());
  REQUIRE(round(core, clock, {ok(), alive()}).size() == 1);
  REQUIRE(core.state() == ServiceState::Up);
  clock.advance(700ms);  // between rounds: no round would notice anything for another 1.3 s
  const auto ch = core.fail_now(1, exited(), clock.now).changes;
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].from == ServiceState::Up);
  CHECK(ch[0].to == ServiceState::Down);
  CHECK(ch[0].reason ==
        "process /run/unbound.pid: process 1234 (from /run/unbound.pid) exited (down at once, not "
        "waiting for fall)");
  CHECK(ch[0].at.steady == clock.now.steady);
  CHECK(core.state() == ServiceState::Down);
  CHECK(core.since().steady == clock.now.steady);
  REQUIRE(core.last_results()[1].has_value());
  CHECK_FALSE(core.last_results()[1]->pass);
}

TEST_CASE("after a process exit the service needs rise passing rounds again") {
  FakeClock clock;
  ServiceCore core(dns_and_process(3, 2), clock.now, 0s);
  for (int i = 0; i < 3; ++i) round(core, clock, {ok(), alive()});
  REQUIRE(core.state() == ServiceState::Up);
  clock.advance(100ms);
  REQUIRE(core.fail_now(1, exited(), clock.now).changes.size() == 1);
  // The restarted server's process is found at the next round: that is one pass of three.
  CHECK(round(core, clock, {ok(), alive()}).empty());
  CHECK(round(core, clock, {ok(), alive()}).empty());
  const auto ch = round(core, clock, {ok(), alive()});
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == ServiceState::Up);
  CHECK(ch[0].reason.find("(3 passing round(s))") != std::string::npos);
}

TEST_CASE("a process exit while down starts a pending rise over, without a state change") {
  FakeClock clock;
  ServiceCore core(dns_and_process(2, 2), clock.now, 0s);
  CHECK(round(core, clock, {ok(), alive()}).empty());  // one pass of two
  clock.advance(50ms);
  CHECK(core.fail_now(1, exited(), clock.now).changes.empty());
  CHECK(core.state() == ServiceState::Down);
  CHECK(core.reason().find("exited") != std::string::npos);
  CHECK(round(core, clock, {ok(), alive()}).empty());  // again one pass of two
  CHECK(round(core, clock, {ok(), alive()}).size() == 1);
  CHECK(core.state() == ServiceState::Up);
}

TEST_CASE("a process exit during a round overrides what the round heard from that check") {
  FakeClock clock;
  ServiceCore core(dns_and_process(2, 2), clock.now, 0s);
  round(core, clock, {ok(), alive()});
  round(core, clock, {ok(), alive()});
  REQUIRE(core.state() == ServiceState::Up);
  clock.now.steady = core.next_wakeup();
  const auto a = core.advance(clock.now);
  REQUIRE(a.start_round.has_value());
  clock.advance(1ms);
  CHECK(core.on_result(*a.start_round, 1, alive(), clock.now).changes.empty());  // seen alive
  clock.advance(1ms);
  REQUIRE(core.fail_now(1, exited(), clock.now).changes.size() == 1);  // then it exits
  clock.advance(1ms);
  CHECK(core.on_result(*a.start_round, 0, ok(), clock.now).changes.empty());  // the round ends
  CHECK_FALSE(core.round_running());
  REQUIRE(core.last_results()[1].has_value());
  CHECK_FALSE(core.last_results()[1]->pass);
  // That round failed, so two more passing rounds are needed, not one.
  CHECK(round(core, clock, {ok(), alive()}).empty());
  CHECK(round(core, clock, {ok(), alive()}).size() == 1);
}

TEST_CASE("an exit reported while a round waits only for that check ends the round as failed") {
  FakeClock clock;
  ServiceCore core(dns_and_process(1, 2), clock.now, 0s);
  clock.now.steady = core.next_wakeup();
  const auto a = core.advance(clock.now);
  REQUIRE(a.start_round.has_value());
  CHECK(core.on_result(*a.start_round, 0, ok(), clock.now).changes.empty());
  CHECK(core.fail_now(1, exited(), clock.now).changes.empty());  // Down already: no change
  CHECK_FALSE(core.round_running());
  CHECK(core.state() == ServiceState::Down);
  // The check's own late report of that round is ignored.
  CHECK(core.on_result(*a.start_round, 1, alive(), clock.now).changes.empty());
  CHECK(core.state() == ServiceState::Down);
}

TEST_CASE("a process exit counts towards flap damping like any health change") {
  FakeClock clock;
  auto spec = dns_and_process(1, 3);
  spec.policy.flap.enabled = true;
  spec.policy.flap.max_changes = 3;
  ServiceCore core(spec, clock.now, 0s);
  REQUIRE(round(core, clock, {ok(), alive()}).size() == 1);  // change 1: Up
  clock.advance(10ms);
  REQUIRE(core.fail_now(1, exited(), clock.now).changes.size() == 1);  // change 2: Down
  REQUIRE(round(core, clock, {ok(), alive()}).size() == 1);  // change 3: Up...
  clock.advance(10ms);
  const auto ch = core.fail_now(1, exited(), clock.now).changes;  // 4: over the limit
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == ServiceState::Down);
  CHECK(ch[0].flap_hold_until.has_value());
}

namespace {
// Interval 1 s, fast-interval 200 ms, timeout 100 ms, fall 3, start up: the setting where the
// fast-interval wait between falling rounds used to add to the detection of a frozen server.
health::ServiceSpec falling_spec() {
  auto s = service(2, 3, true);
  s.policy.interval = 1s;
  s.policy.fast_interval = 200ms;
  s.policy.timeout = 100ms;
  return s;
}
}  // namespace

TEST_CASE("a frozen server is probed again at once after each timeout: down after fall x timeout") {
  FakeClock clock;
  ServiceCore core(falling_spec(), clock.now, 0s);
  round(core, clock, {ok()});  // the last answer before the freeze
  const auto t0 = core.next_wakeup();
  std::vector<std::chrono::steady_clock::time_point> starts;
  std::vector<health::StateChange> changes;
  // The server never answers: each round is cut at its deadline, where the next one starts.
  clock.now.steady = t0;
  for (int step = 0; step < 4 && changes.empty(); ++step) {
    clock.now.steady = std::max(clock.now.steady, core.next_wakeup());
    auto a = core.advance(clock.now);
    if (a.start_round) starts.push_back(clock.now.steady);
    changes.insert(changes.end(), a.changes.begin(), a.changes.end());
  }
  // Round starts: t0, t0+100ms, t0+200ms (no 200 ms fast-interval spacing); down at t0+300ms.
  REQUIRE(starts.size() >= 3);
  CHECK(starts[0] == t0);
  CHECK(starts[1] == t0 + 100ms);
  CHECK(starts[2] == t0 + 200ms);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].to == ServiceState::Down);
  CHECK(changes[0].at.steady == t0 + 300ms);
  CHECK(changes[0].reason.find("timeout after 100ms (3 failing round(s))") != std::string::npos);
}

TEST_CASE("a quick failure while falling waits the shorter of fast-interval and the timeout") {
  FakeClock clock;
  ServiceCore core(falling_spec(), clock.now, 0s);
  round(core, clock, {ok()});
  const auto t0 = core.next_wakeup();
  round(core, clock, {servfail()});  // answered in 3 ms
  CHECK(core.next_wakeup() == t0 + 100ms);  // not at once, and not fast-interval (200 ms) later
  round(core, clock, {servfail()});
  CHECK(core.next_wakeup() == t0 + 200ms);
  auto ch = round(core, clock, {servfail()});
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == ServiceState::Down);
  CHECK(ch[0].at.steady == t0 + 203ms);
  // Down and stable: back to the interval.
  CHECK(core.next_wakeup() == t0 + 200ms + 1s);
}

TEST_CASE("a rising service keeps the fast-interval spacing (the change is for falls only)") {
  FakeClock clock;
  auto spec = falling_spec();
  spec.policy.start_up = false;
  spec.policy.rise = 3;
  ServiceCore core(spec, clock.now, 0s);
  const auto t0 = core.next_wakeup();
  round(core, clock, {ok()});
  CHECK(core.next_wakeup() == t0 + 203ms);  // fast-interval after the pass (rise spacing)
}

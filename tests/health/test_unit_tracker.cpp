// The pure logic of the process check that follows a systemd unit (health/unit_tracker.hpp), fed
// sequences of what systemd says (reads, PropertiesChanged), pidfd exits and bus errors.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "health/unit_tracker.hpp"

namespace health = herald::health;
using health::UnitAction;
using health::UnitState;
using health::UnitTracker;
using namespace std::chrono_literals;

namespace {

UnitState full(const char* active, int pid, const char* load = "loaded") {
  return UnitState{std::string(load), std::string(active), pid};
}
UnitState active_state(const char* s) { return UnitState{std::nullopt, std::string(s), std::nullopt}; }
UnitState main_pid(int pid) { return UnitState{std::nullopt, std::nullopt, pid}; }

// A tracker already watching PID 100 of an active unbound.service.
UnitTracker watching_100() {
  UnitTracker t("unbound.service");
  auto a = t.on_update(full("active", 100));
  REQUIRE(a.watch == 100);
  t.on_bus_ok();
  return t;
}

}  // namespace

TEST_CASE("unit tracker: an active unit's MainPID is watched and the round passes") {
  UnitTracker t("unbound.service");
  CHECK(t.verdict().pass == false);
  CHECK(t.verdict().reason == "unit unbound.service: not read yet");
  UnitAction a = t.on_update(full("active", 100));
  CHECK(a == UnitAction{false, 100, std::nullopt, false});
  CHECK(t.watching() == 100);
  CHECK(t.verdict().pass);
  CHECK(t.verdict().reason == "unit unbound.service main PID 100 running");
  // While the watch holds and the bus works, rounds need no read.
  CHECK_FALSE(t.read_due(UnitTracker::Clock::now()));
}

TEST_CASE("unit tracker: deactivating (a stop in progress) is down at once, before the process exits") {
  UnitTracker t = watching_100();
  UnitAction a = t.on_update(active_state("deactivating"));
  CHECK(a.drop_watch);
  CHECK_FALSE(a.watch);
  REQUIRE(a.down_now);
  CHECK(*a.down_now == "unit unbound.service deactivating (main PID 100): a stop in progress");
  CHECK_FALSE(t.watching());
  CHECK(t.verdict().reason == "unit unbound.service is deactivating");
  // The exit that follows is no second event.
  CHECK(t.on_pid_exited(100) == UnitAction{});
  CHECK(t.on_update(UnitState{std::nullopt, std::string("inactive"), 0}) == UnitAction{});
  CHECK(t.verdict().reason == "unit unbound.service is inactive");
}

TEST_CASE("unit tracker: the main process's exit is down at once, once") {
  UnitTracker t = watching_100();
  CHECK(t.on_pid_exited(99) == UnitAction{});  // not the watched one
  UnitAction a = t.on_pid_exited(100);
  CHECK(a.drop_watch);
  CHECK(*a.down_now == "unit unbound.service main PID 100 exited");
  CHECK(t.on_pid_exited(100) == UnitAction{});
  // systemd's signals after the exit: MainPID 0, then failed / activating (Restart=).
  CHECK(t.on_update(main_pid(0)) == UnitAction{});
  CHECK(t.on_update(active_state("failed")) == UnitAction{});
  CHECK(t.verdict().pass == false);
  CHECK(t.read_due(UnitTracker::Clock::now()));
}

TEST_CASE("unit tracker: MainPID 0 while watched (the process is gone) is down at once") {
  UnitTracker t = watching_100();
  UnitAction a = t.on_update(main_pid(0));
  CHECK(a.drop_watch);
  CHECK(*a.down_now == "unit unbound.service main PID 100 gone (MainPID is 0 now)");
}

TEST_CASE("unit tracker: a restart's new MainPID is picked up when the unit is active again") {
  UnitTracker t = watching_100();
  CHECK(t.on_update(active_state("deactivating")).down_now);
  CHECK(t.on_update(UnitState{std::nullopt, std::string("inactive"), 0}) == UnitAction{});
  CHECK(t.on_update(active_state("activating")) == UnitAction{});
  CHECK(t.verdict().reason == "unit unbound.service is activating");
  // Active again, its MainPID not in this signal: read the unit again.
  UnitAction a = t.on_update(active_state("active"));
  CHECK(a == UnitAction{false, std::nullopt, std::nullopt, true});
  CHECK(t.verdict().reason == "unit unbound.service is active but has no main PID");
  // The read (or the Service interface's own signal) brings the new MainPID.
  a = t.on_update(full("active", 200));
  CHECK(a.watch == 200);
  CHECK_FALSE(a.down_now);
  CHECK(t.verdict().pass);
  CHECK(t.verdict().reason == "unit unbound.service main PID 200 running");
}

TEST_CASE("unit tracker: MainPID arriving before ActiveState=active is watched once active") {
  UnitTracker t("unbound.service");
  CHECK(t.on_update(full("activating", 0)) == UnitAction{});
  CHECK(t.on_update(main_pid(300)) == UnitAction{});  // not active yet: not passing either
  CHECK(t.verdict().pass == false);
  UnitAction a = t.on_update(active_state("active"));
  CHECK(a.watch == 300);
  CHECK_FALSE(a.reread);
}

TEST_CASE("unit tracker: another MainPID of the running unit is followed without going down") {
  UnitTracker t = watching_100();
  UnitAction a = t.on_update(main_pid(101));
  CHECK(a.drop_watch);
  CHECK(a.watch == 101);
  CHECK_FALSE(a.down_now);
  CHECK(t.verdict().reason == "unit unbound.service main PID 101 running");
  // reloading keeps the watch
  CHECK(t.on_update(active_state("reloading")) == UnitAction{});
  CHECK(t.verdict().pass);
}

TEST_CASE("unit tracker: a MainPID that cannot be watched fails the round, saying why") {
  UnitTracker t("unbound.service");
  CHECK(t.on_update(full("active", 100)).watch == 100);
  t.on_watch_failed(100, "main PID 100 not running");
  CHECK_FALSE(t.watching());
  CHECK(t.verdict().reason == "unit unbound.service: main PID 100 not running");
  CHECK(t.read_due(UnitTracker::Clock::now()));
  // The next read names a live one.
  CHECK(t.on_update(full("active", 101)).watch == 101);
  CHECK(t.verdict().pass);
}

TEST_CASE("unit tracker: a unit that does not exist, or cannot be loaded, fails with its LoadState") {
  UnitTracker t("dnstest.service");
  CHECK(t.on_update(full("inactive", 0, "not-found")) == UnitAction{});
  CHECK(t.verdict().reason == "unit dnstest.service does not exist (LoadState=not-found)");
  CHECK(t.on_update(full("inactive", 0, "masked")) == UnitAction{});
  CHECK(t.verdict().reason == "unit dnstest.service cannot be loaded (LoadState=masked)");
}

TEST_CASE("unit tracker: bus errors fail the rounds with the error, retried at a bounded interval") {
  UnitTracker t("unbound.service", 1s);
  const auto t0 = UnitTracker::Clock::time_point{} + 100s;
  CHECK(t.read_due(t0));
  t.attempted(t0);
  t.on_bus_error("cannot connect to systemd's bus unix:path=/run/dbus/system_bus_socket: No such file or directory");
  CHECK(t.verdict().pass == false);
  CHECK(t.verdict().reason ==
        "unit unbound.service: cannot connect to systemd's bus unix:path=/run/dbus/system_bus_socket: No such file or directory");
  // Rounds every 100 ms do not hammer the bus: one attempt a second.
  CHECK_FALSE(t.read_due(t0 + 100ms));
  CHECK_FALSE(t.read_due(t0 + 999ms));
  CHECK(t.read_due(t0 + 1s));
  t.attempted(t0 + 1s);
  CHECK(t.on_update(full("active", 100)).watch == 100);
  t.on_bus_ok();
  CHECK(t.verdict().pass);
  CHECK_FALSE(t.read_due(t0 + 2s));
}

TEST_CASE("unit tracker: a bus lost while watching fails the rounds but keeps the watch") {
  UnitTracker t = watching_100();
  t.on_bus_error("systemd's bus unix:path=/run/dbus/system_bus_socket: connection closed");
  CHECK(t.watching() == 100);
  CHECK(t.verdict().pass == false);
  CHECK(t.verdict().reason == "unit unbound.service: systemd's bus unix:path=/run/dbus/system_bus_socket: connection closed");
  // The process's exit is still seen at once.
  CHECK(t.on_pid_exited(100).down_now);
}

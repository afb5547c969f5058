// fleet_report: the words a site publishes for its services, and the process check's verdict
// that the fleet floor reads.
#include <doctest/doctest.h>

#include "daemon/fleet_report.hpp"

using namespace herald;
using daemon::ServiceDecision;
using daemon::ServiceState;

TEST_CASE("published state: up, down, drained; a fleet drain and a floor hold have words of their own") {
  ServiceDecision d;
  d.state = ServiceState::Up;
  CHECK(daemon::published_state(d) == "up");
  d.state = ServiceState::Down;
  CHECK(daemon::published_state(d) == "down");
  d.floor_held = true;  // Down, announced by the floor
  CHECK(daemon::published_state(d) == "held");
  d.floor_held = false;
  d.state = ServiceState::Drained;
  d.drain_holders = {"operator"};
  CHECK(daemon::published_state(d) == "drained");
  d.drain_holders = {"operator", "fleet"};  // acknowledges the fleet's drain
  CHECK(daemon::published_state(d) == "fleet-drained");
}

TEST_CASE("process gone: only a failed process check says so, matched by position") {
  conf::ServiceConfig sc;
  sc.checks.resize(2);
  sc.checks[0].type = conf::CheckType::Dns;
  sc.checks[1].type = conf::CheckType::Process;
  health::ServiceStatus st;
  st.checks.resize(2);
  CHECK(!daemon::process_gone(sc, st));  // no result yet
  st.checks[0].last = health::CheckResult{false, {}, "timeout", false};
  st.checks[1].last = health::CheckResult{true, {}, "process 1234 running", false};
  CHECK(!daemon::process_gone(sc, st));  // the DNS check fails, the process lives
  st.checks[1].last = health::CheckResult{false, {}, "process 1234 exited", false};
  CHECK(daemon::process_gone(sc, st));
  sc.checks[1].type = conf::CheckType::Exec;  // a failing exec check is not a gone process
  CHECK(!daemon::process_gone(sc, st));
}

// When a drained service stops being announced: the drain's start is kept (persisted for an
// operator drain), so a restart or a Down -> Drained return never starts a new drain-period.
// Driven with fixed wall-clock times: no clock is read.
#include <doctest/doctest.h>

#include <string_view>

#include "daemon/drain_period.hpp"

using namespace std::chrono_literals;
using herald::daemon::drain_phase;
using herald::daemon::DrainPhase;
using herald::daemon::DrainStart;
using herald::daemon::persisted_drain_start;
using herald::daemon::PersistentState;
using herald::daemon::ServiceState;
using herald::daemon::WallClock;

namespace {
// 2027-01-15T08:00:00Z.
const WallClock::time_point kT0 = WallClock::from_time_t(1'800'000'000);
}  // namespace

TEST_CASE("drain_phase: announced as drained for drain-period from the start, then withdrawn") {
  CHECK(drain_phase(30s, kT0, kT0) == DrainPhase{false, 30s});
  CHECK(drain_phase(30s, kT0, kT0 + 12s) == DrainPhase{false, 18s});
  CHECK(drain_phase(30s, kT0, kT0 + 30s) == DrainPhase{true, std::nullopt});
  CHECK(drain_phase(30s, kT0, kT0 + 24h) == DrainPhase{true, std::nullopt});
  // No drain-period: announced as drained for as long as it is drained.
  CHECK(drain_phase(std::nullopt, kT0, kT0 + 24h) == DrainPhase{});
  // A start in the future (clock set back) never makes the announcement longer than a period.
  CHECK(drain_phase(30s, kT0 + 1h, kT0) == DrainPhase{false, 30s});
}

TEST_CASE("persisted_drain_start: the persisted time; the earliest of a service drain, drain --all and drain_began") {
  PersistentState st;
  CHECK_FALSE(persisted_drain_start(st, "dns").has_value());
  st.drained["dns"] = {"maint", 1'800'000'000'000};
  CHECK(persisted_drain_start(st, "dns") == kT0);
  CHECK_FALSE(persisted_drain_start(st, "ntp").has_value());
  st.drain_all = PersistentState::DrainRecord{"site", 1'800'000'100'000};
  CHECK(persisted_drain_start(st, "dns") == kT0);
  CHECK(persisted_drain_start(st, "ntp") == kT0 + 100s);
  // A fail-safe drain (state file unreadable at start) has its period over from the start.
  st.drain_all = PersistentState::DrainRecord{"fail-safe", 1'800'000'100'000, true};
  CHECK(persisted_drain_start(st, "ntp") == WallClock::time_point{});
  CHECK(drain_phase(30s, *persisted_drain_start(st, "ntp"), kT0 + 100s).withdraw);
  // A drain of any cause in force before a restart.
  PersistentState mf;
  mf.drain_began["dns"] = 1'800'000'000'000;
  CHECK(persisted_drain_start(mf, "dns") == kT0);
  mf.drained["dns"] = {"later", 1'800'000'050'000};
  CHECK(persisted_drain_start(mf, "dns") == kT0);
}

TEST_CASE("record_drain_start keeps drain_began equal to the drain's start, in milliseconds") {
  using herald::daemon::record_drain_start;
  PersistentState st;
  CHECK_FALSE(record_drain_start(st, "dns", std::nullopt));
  CHECK(record_drain_start(st, "dns", kT0 + 1500ms));
  CHECK(st.drain_began.at("dns") == 1'800'000'001'500);
  CHECK_FALSE(record_drain_start(st, "dns", kT0 + 1500ms + 300us));  // same millisecond: nothing to save
  CHECK(record_drain_start(st, "dns", std::nullopt));
  CHECK(st.drain_began.empty());
}

TEST_CASE("restart with a maintenance-file drain past its period: withdrawn at once") {
  // Before the restart: drained by the maintenance file at kT0, its start persisted.
  PersistentState st;
  DrainStart before;
  before.update(ServiceState::Drained, persisted_drain_start(st, "dns"), kT0);
  REQUIRE(herald::daemon::record_drain_start(st, "dns", before.began()));
  // After it, ten minutes later: Down until the checks rise, then Drained by the same file.
  DrainStart after;
  after.update(ServiceState::Down, persisted_drain_start(st, "dns"), kT0 + 10min);
  CHECK_FALSE(herald::daemon::record_drain_start(st, "dns", after.began()));  // kept while Down
  after.update(ServiceState::Drained, persisted_drain_start(st, "dns"), kT0 + 10min + 1s);
  CHECK(*after.began() == kT0);
  CHECK(drain_phase(30s, *after.began(), kT0 + 10min + 1s).withdraw);
  // Up again ends it: nothing is left to persist.
  after.update(ServiceState::Up, persisted_drain_start(st, "dns"), kT0 + 11min);
  CHECK(herald::daemon::record_drain_start(st, "dns", after.began()));
  CHECK(st.drain_began.empty());
}

TEST_CASE("restart while drained past the period: the persisted start says withdraw at once") {
  // herald restarts 10 minutes after the operator drained dns (drain-period 30s): the service
  // comes back Down (health not risen yet), then Drained once healthy.
  PersistentState st;
  st.drained["dns"] = {"kernel upgrade", 1'800'000'000'000};
  DrainStart d;
  const auto restart = kT0 + 10min;
  d.update(ServiceState::Down, persisted_drain_start(st, "dns"), restart);
  CHECK(d.began() == kT0);
  d.update(ServiceState::Drained, persisted_drain_start(st, "dns"), restart + 1s);
  REQUIRE(d.began().has_value());
  CHECK(*d.began() == kT0);
  CHECK(drain_phase(30s, *d.began(), restart + 1s).withdraw);
}

TEST_CASE("restart within the period: announced as drained for the rest of it only") {
  PersistentState st;
  st.drained["dns"] = {"", 1'800'000'000'000};
  DrainStart d;
  d.update(ServiceState::Drained, persisted_drain_start(st, "dns"), kT0 + 20s);
  CHECK(drain_phase(30s, *d.began(), kT0 + 20s) == DrainPhase{false, 10s});
}

TEST_CASE("a drained service that goes Down and recovers keeps its drain's start") {
  // Maintenance-file drain (nothing persisted): begins when the service becomes Drained.
  DrainStart d;
  d.update(ServiceState::Up, std::nullopt, kT0);
  d.update(ServiceState::Drained, std::nullopt, kT0 + 1s);
  CHECK(*d.began() == kT0 + 1s);
  d.update(ServiceState::Down, std::nullopt, kT0 + 60s);   // DNS failed while drained
  d.update(ServiceState::Drained, std::nullopt, kT0 + 90s);  // and recovered
  CHECK(*d.began() == kT0 + 1s);
  CHECK(drain_phase(30s, *d.began(), kT0 + 90s).withdraw);
}

TEST_CASE("Up ends the drain: the next drain has a period of its own") {
  DrainStart d;
  d.update(ServiceState::Drained, std::nullopt, kT0);
  d.update(ServiceState::Up, std::nullopt, kT0 + 5min);
  CHECK_FALSE(d.began().has_value());
  d.update(ServiceState::Drained, std::nullopt, kT0 + 6min);
  CHECK(*d.began() == kT0 + 6min);
  CHECK(drain_phase(30s, *d.began(), kT0 + 6min) == DrainPhase{false, 30s});
}

TEST_CASE("a later operator drain of a service drained earlier keeps the earlier start") {
  DrainStart d;
  d.update(ServiceState::Drained, std::nullopt, kT0);  // maintenance file
  d.update(ServiceState::Drained, kT0 + 5min, kT0 + 5min);  // then heraldctl drain
  CHECK(*d.began() == kT0);
  // The other way round: an operator drain persisted earlier than the moment seen here wins.
  DrainStart e;
  e.update(ServiceState::Drained, kT0, kT0 + 5min);
  CHECK(*e.began() == kT0);
}

TEST_CASE("service states print as in the status") {
  CHECK(std::string_view(to_string(ServiceState::Down)) == "Down");  // a const char*: compare text
  CHECK(std::string_view(to_string(ServiceState::Up)) == "Up");  // a const char*: compare text
  CHECK(std::string_view(to_string(ServiceState::Drained)) == "Drained");  // a const char*: compare text
}

TEST_CASE("a fresh operator drain keeps its whole drain-period, whatever the fraction of a second") {
  // Drained at .980 with a 1 s period (seconds on disk once made this 20 ms): persisted, read
  // back, and still announced as drained until .980 of the next second.
  PersistentState st;
  const auto at = kT0 + 980ms;
  st.drained["dns"] = {"maint", std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count()};
  auto back = herald::daemon::decode_state(herald::daemon::encode_state(st));
  REQUIRE(back.has_value());
  DrainStart start;
  start.update(ServiceState::Drained, persisted_drain_start(*back, "dns"), at + 1ms);
  REQUIRE(start.began());
  CHECK(*start.began() == at);
  CHECK_FALSE(drain_phase(1s, *start.began(), kT0 + 1s).withdraw);
  CHECK(drain_phase(1s, *start.began(), kT0 + 1980ms).withdraw);
}

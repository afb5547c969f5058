// ServicePolicy: every state and transition of a service, with a hand-advanced wall clock.
//
// Test names map to docs/configuration.md's [service.policy.*] section:
//   row `action`             -> "policy row action: ..."
//   row `med`                -> "policy row med: ..."
//   row `prepend`            -> "policy row prepend: ..."
//   row `communities`        -> "policy row communities: ..."
//   row `large-communities`  -> "policy row large-communities: ..."
//   row `drain-period`       -> "policy row drain-period: ..."
//   "A service is drained by its maintenance-file check, by heraldctl drain, and at shutdown
//    when drain-on-shutdown is on" -> "drained by: ..."
#include <doctest/doctest.h>

#include "daemon/service_policy.hpp"

using namespace herald;
using namespace std::chrono_literals;
using daemon::AddressInput;
using daemon::DrainPeriodAlreadyOver;
using daemon::DrainPeriodOver;
using daemon::HealthInput;
using daemon::PersistentState;
using daemon::PolicyEvent;
using daemon::PolicyWorld;
using daemon::ServicePolicy;
using daemon::ServiceState;
using daemon::Shutdown;
using daemon::StateChanged;
using daemon::WallClock;

namespace {

constexpr std::uint32_t kLocalAs = 64500;
const WallClock::time_point T0 = WallClock::time_point{std::chrono::seconds(1'800'000'000)};

bgp::Prefix P(const char* text) { return *bgp::Prefix::parse(text); }

conf::ServiceConfig service(std::string name, std::vector<bgp::Prefix> prefixes) {
  conf::ServiceConfig s;
  s.name = std::move(name);
  s.prefixes = std::move(prefixes);
  return s;
}

const HealthInput kHealthy{ServiceState::Up, "dns ok (2 passing round(s))"};
const HealthInput kFailing{ServiceState::Down, "dns timeout (2 failing round(s))"};
const HealthInput kMaintenance{ServiceState::Drained, "maintenance file /run/dns.maint present"};
const AddressInput kBound{};
const AddressInput kGone{false, "addresses of dns not present on lo"};

// A policy over one configuration with the operator state and world the test changes.
struct Fixture {
  std::vector<conf::ServiceConfig> services{service("dns", {P("192.0.2.53/32")})};
  PersistentState op;
  std::vector<conf::PeerConfig> peers{[] {
    conf::PeerConfig p;
    p.name = "upstream";
    return p;
  }()};
  PolicyWorld world{&op, Shutdown::No, kLocalAs, &peers};
  ServicePolicy policy;
  WallClock::time_point now = T0;

  Fixture() { policy.set_services(services, now); }
  std::vector<PolicyEvent> eval(const HealthInput& h, const AddressInput& a = kBound, std::string_view cause = "test",
                                const std::string& name = "dns") {
    auto ev = policy.evaluate(name, h, a, world, cause, now);
    // What the controller does after each evaluation: persist the drain start.
    daemon::record_drain_start(op, name, policy.decision(name)->drain_began);
    return ev;
  }
  const daemon::ServiceDecision& d(const std::string& name = "dns") const { return *policy.decision(name); }
  std::vector<bgp::Route> routes() const { return policy.routes(world); }
  // The state file's unit for drain times (milliseconds since the epoch).
  std::int64_t ms(WallClock::time_point t) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  }
};

template <class T>
const T* only(const std::vector<PolicyEvent>& ev) {
  REQUIRE(ev.size() == 1);
  return std::get_if<T>(&ev[0]);
}

}  // namespace

// ---------------------------------------------------------------- start, up, down

TEST_CASE("start: a healthy service goes Start -> Up and is announced with the up policy") {
  Fixture f;
  auto ev = f.eval(kHealthy, kBound, "start");
  const auto* c = only<StateChanged>(ev);
  REQUIRE(c);
  CHECK(c->service == "dns");
  CHECK(!c->old);  // "Start"
  CHECK(c->now == ServiceState::Up);
  CHECK(c->reason == kHealthy.reason);
  CHECK(c->cause == "start");
  CHECK(f.d().announced);
  CHECK(f.d().since == T0);
  auto r = f.routes();
  REQUIRE(r.size() == 1);
  CHECK(r[0].prefix == P("192.0.2.53/32"));
  CHECK(r[0].attrs->as_path_prepend.empty());
  CHECK(!r[0].attrs->med);
  CHECK(r[0].attrs->communities.empty());
}

TEST_CASE("start: a service that starts Down makes no event (nothing was announced) and is withdrawn") {
  Fixture f;
  CHECK(f.eval(kFailing, kBound, "start").empty());
  CHECK(f.d().state == ServiceState::Down);
  CHECK(f.d().reason == kFailing.reason);
  CHECK(f.d().changes == 1);
  CHECK(f.routes().empty());
}

TEST_CASE("up -> down -> up: health changes make one event each, with old, new, reason and cause") {
  Fixture f;
  f.eval(kHealthy);
  f.now += 10s;
  auto ev = f.eval(kFailing, kBound, "health change");
  const auto* c = only<StateChanged>(ev);
  REQUIRE(c);
  CHECK(c->old == ServiceState::Up);
  CHECK(c->now == ServiceState::Down);
  CHECK(c->reason == kFailing.reason);
  CHECK(c->cause == "health change");
  CHECK(f.d().since == T0 + 10s);
  CHECK(f.routes().empty());
  f.now += 5s;
  ev = f.eval(kHealthy);
  REQUIRE(only<StateChanged>(ev));
  CHECK(f.routes().size() == 1);
  CHECK(f.d().changes == 3);
}

TEST_CASE("same state again: no event, the reason follows the input, since stays") {
  Fixture f;
  f.eval(kFailing);
  f.now += 1s;
  CHECK(f.eval({ServiceState::Down, "tcp refused"}).empty());
  CHECK(f.d().reason == "tcp refused");
  CHECK(f.d().since == T0);
}

TEST_CASE("health without checks: always Up, saying why") {
  auto h = daemon::health_without_checks();
  CHECK(h.state == ServiceState::Up);
  CHECK(h.reason == "no health checks configured");
}

TEST_CASE("flap hold: health reports the held service Down, and the policy withdraws it") {
  Fixture f;
  f.eval(kHealthy);
  f.eval({ServiceState::Down, "flapping: 7 changes within 1m; held down for 30s"});
  CHECK(f.d().state == ServiceState::Down);
  CHECK(f.routes().empty());
}

// ---------------------------------------------------------------- address gone

TEST_CASE("address gone: Down even when healthy and drained, with the address reason") {
  Fixture f;
  f.eval(kHealthy);
  f.op.drained["dns"] = {"maintenance", f.ms(f.now)};
  auto ev = f.eval(kHealthy, kGone, "address change");
  const auto* c = only<StateChanged>(ev);
  REQUIRE(c);
  CHECK(c->now == ServiceState::Down);
  CHECK(c->reason == kGone.reason);
  CHECK(f.routes().empty());
  f.eval(kHealthy, kBound);
  CHECK(f.d().state == ServiceState::Drained);  // the drain is still there
}

TEST_CASE("health Down wins over every drain") {
  Fixture f;
  f.op.drain_all = PersistentState::DrainRecord{"all", f.ms(f.now)};
  f.eval(kFailing);
  CHECK(f.d().state == ServiceState::Down);
  f.eval(kMaintenance);
  CHECK(f.d().state == ServiceState::Drained);
  CHECK(f.d().reason == "maintenance: " + kMaintenance.reason);
}

// ---------------------------------------------------------------- drained by

TEST_CASE("drained by: the maintenance file (health Drained)") {
  Fixture f;
  f.eval(kHealthy);
  auto ev = f.eval(kMaintenance);
  const auto* c = only<StateChanged>(ev);
  REQUIRE(c);
  CHECK(c->now == ServiceState::Drained);
  CHECK(c->reason == "maintenance: " + kMaintenance.reason);
  CHECK(f.d().drain_began == T0);
  CHECK(f.op.drain_began.at("dns") == f.ms(T0));  // persisted
}

TEST_CASE("drained by: heraldctl drain, with and without a reason; undrain brings it Up") {
  Fixture f;
  f.eval(kHealthy);
  f.op.drained["dns"] = {"", f.ms(f.now)};
  f.eval(kHealthy, kBound, "operator drain");
  CHECK(f.d().state == ServiceState::Drained);
  CHECK(f.d().reason == "drained by operator");
  f.op.drained["dns"] = {"upgrade", f.ms(f.now)};
  CHECK(f.eval(kHealthy).empty());
  CHECK(f.d().reason == "drained by operator: upgrade");
  f.op.drained.clear();
  auto ev = f.eval(kHealthy, kBound, "operator undrain");
  REQUIRE(only<StateChanged>(ev));
  CHECK(f.d().state == ServiceState::Up);
  CHECK(!f.d().drain_began);
  CHECK(f.op.drain_began.empty());  // the drain ended: no persisted start left
}

TEST_CASE("drained by: heraldctl drain --all") {
  Fixture f;
  f.op.drain_all = PersistentState::DrainRecord{"site move", f.ms(f.now)};
  f.eval(kHealthy);
  CHECK(f.d().state == ServiceState::Drained);
  CHECK(f.d().reason == "drained by operator (all services): site move");
}

TEST_CASE("drained by: a unit listed in `units` (drain --unit), apart from the operator's drain") {
  Fixture f;
  f.services[0].units = {"unbound.service"};
  f.policy.set_services(f.services, f.now);
  f.eval(kHealthy);
  CHECK(f.d().drain_holders.empty());
  // A unit no service lists drains nothing.
  f.op.unit_drains["knot.service"] = {"", f.ms(f.now)};
  f.eval(kHealthy);
  CHECK(f.d().state == ServiceState::Up);
  f.op.unit_drains["unbound.service"] = {"unit stopping", f.ms(f.now)};
  auto ev = f.eval(kHealthy);
  const auto* c = only<StateChanged>(ev);
  REQUIRE(c);
  CHECK(c->now == ServiceState::Drained);
  CHECK(c->reason == "drained by unit unbound.service: unit stopping");
  CHECK(f.d().drain_holders == std::vector<std::string>{"unit:unbound.service"});
  f.op.unit_drains.erase("unbound.service");
  ev = f.eval(kHealthy);
  REQUIRE(only<StateChanged>(ev));
  CHECK(only<StateChanged>(ev)->now == ServiceState::Up);
}

TEST_CASE("drained by: any holder; a unit's undrain leaves the operator's drain and its period") {
  Fixture f;
  f.services[0].units = {"unbound.service"};
  f.services[0].policy.drain_period = 30s;
  f.policy.set_services(f.services, f.now);
  f.eval(kHealthy);
  f.op.drained["dns"] = {"kernel upgrade", f.ms(f.now)};
  f.eval(kHealthy);
  f.now += 10s;
  f.op.unit_drains["unbound.service"] = {"", f.ms(f.now)};
  CHECK(f.eval(kHealthy).empty());  // already Drained: no new event, no new period
  CHECK(f.d().drain_holders == std::vector<std::string>{"operator", "unit:unbound.service"});
  CHECK(f.d().drain_began == T0);
  f.now += 5s;
  f.op.unit_drains.erase("unbound.service");  // the unit started again: its undrain
  CHECK(f.eval(kHealthy).empty());
  CHECK(f.d().state == ServiceState::Drained);
  CHECK(f.d().reason == "drained by operator: kernel upgrade");
  CHECK(f.d().drain_holders == std::vector<std::string>{"operator"});
  f.now = T0 + 30s;
  auto over = f.policy.advance(f.now);
  CHECK(only<DrainPeriodOver>(over));
  CHECK(f.routes().empty());
  // drain --all is a holder too; undraining the operator's drain leaves it.
  f.op.drain_all = PersistentState::DrainRecord{"", f.ms(f.now)};
  f.op.drained.erase("dns");
  f.eval(kHealthy);
  CHECK(f.d().state == ServiceState::Drained);
  CHECK(f.d().drain_holders == std::vector<std::string>{"all"});
  CHECK(f.routes().empty());  // the period of the drain in force stays over
}

TEST_CASE("drain_holders: all, operator, then each drained unit in `units` order") {
  PersistentState op;
  auto s = service("dns", {P("192.0.2.53/32")});
  s.units = {"unbound.service", "named.service"};
  CHECK(daemon::drain_holders(op, s).empty());
  op.unit_drains["named.service"] = {};
  op.unit_drains["unbound.service"] = {};
  op.unit_drains["nsd.service"] = {};
  op.drained["other"] = {};
  CHECK(daemon::drain_holders(op, s) == std::vector<std::string>{"unit:unbound.service", "unit:named.service"});
  op.drained["dns"] = {};
  op.drain_all = PersistentState::DrainRecord{};
  CHECK(daemon::drain_holders(op, s) ==
        std::vector<std::string>{"all", "operator", "unit:unbound.service", "unit:named.service"});
}

TEST_CASE("drained by: shutdown with drain-on-shutdown; without it the state stays") {
  Fixture f;
  f.eval(kHealthy);
  f.world.shutdown = Shutdown::Withdrawing;
  CHECK(f.eval(kHealthy, kBound, "shutdown").empty());
  CHECK(f.d().state == ServiceState::Up);
  f.world.shutdown = Shutdown::Draining;
  auto ev = f.eval(kHealthy, kBound, "shutdown");
  const auto* c = only<StateChanged>(ev);
  REQUIRE(c);
  CHECK(c->now == ServiceState::Drained);
  CHECK(c->reason == "herald is shutting down");
  CHECK(c->cause == "shutdown");
  CHECK(f.routes().size() == 1);  // announced as drained for drain-period
  CHECK(f.d().drain_ends == f.now + 30s);
}

TEST_CASE("fail-safe drain (state file unreadable): withdrawn at once, its period counted as over") {
  Fixture f;
  f.op.drain_all = PersistentState::DrainRecord{"state file unreadable", f.ms(f.now), true};
  auto ev = f.eval(kHealthy, kBound, "start");
  REQUIRE(ev.size() == 2);
  CHECK(std::get<StateChanged>(ev[0]).now == ServiceState::Drained);
  CHECK(std::get<DrainPeriodAlreadyOver>(ev[1]).since == WallClock::time_point{});
  CHECK(f.d().drain_expired);
  CHECK(f.routes().empty());
}

TEST_CASE("fail-safe drain with drain-period = false: announced as drained while it holds") {
  Fixture f;
  f.services[0].policy.drain_period.reset();
  f.op.drain_all = PersistentState::DrainRecord{"state file unreadable", f.ms(f.now), true};
  f.eval(kHealthy);
  CHECK(f.d().state == ServiceState::Drained);
  CHECK(f.routes().size() == 1);
  CHECK(!f.policy.next_wakeup());
}

// ---------------------------------------------------------------- drain-period

TEST_CASE("policy row drain-period: announced as drained for the period, then withdrawn at its end") {
  Fixture f;
  f.eval(kHealthy);
  f.op.drained["dns"] = {"", f.ms(f.now)};
  f.eval(kHealthy);
  REQUIRE(f.routes().size() == 1);
  CHECK(f.routes()[0].attrs->communities == std::vector<bgp::Community>{bgp::kGracefulShutdown});
  CHECK(f.policy.next_wakeup() == T0 + 30s);
  f.now = T0 + 29s;
  CHECK(f.policy.advance(f.now).empty());
  CHECK(f.routes().size() == 1);
  f.now = T0 + 30s;
  auto ev = f.policy.advance(f.now);
  const auto* over = only<DrainPeriodOver>(ev);
  REQUIRE(over);
  CHECK(over->service == "dns");
  CHECK(f.routes().empty());
  CHECK(f.d().state == ServiceState::Drained);
  CHECK(!f.d().announced);
  CHECK(!f.policy.next_wakeup());
  CHECK(f.policy.advance(f.now + 1h).empty());  // once
}

TEST_CASE("policy row drain-period: false keeps the drained announcement for as long as drained") {
  Fixture f;
  f.services[0].policy.drain_period.reset();
  f.eval(kMaintenance);
  CHECK(!f.policy.next_wakeup());
  CHECK(f.policy.advance(f.now + 24h).empty());
  CHECK(f.routes().size() == 1);
}

TEST_CASE("policy row drain-period: a persisted start within the period announces for what is left") {
  Fixture f;
  f.op.drained["dns"] = {"", f.ms(T0 - 10s)};  // drained 10 s before this (re)start
  f.eval(kHealthy, kBound, "start");
  CHECK(f.d().drain_began == T0 - 10s);
  CHECK(f.routes().size() == 1);
  CHECK(f.policy.next_wakeup() == T0 + 20s);
}

TEST_CASE("policy row drain-period: a persisted start past the period stays withdrawn after a restart") {
  Fixture f;
  f.op.drain_began["dns"] = f.ms(T0 - 1h);  // a maintenance drain began before the restart
  auto ev = f.eval(kMaintenance, kBound, "start");
  REQUIRE(ev.size() == 2);
  CHECK(std::get<DrainPeriodAlreadyOver>(ev[1]).since == T0 - 1h);
  CHECK(f.routes().empty());
  CHECK(!f.policy.next_wakeup());
}

TEST_CASE("policy row drain-period: Drained -> Down -> Drained keeps the first start") {
  Fixture f;
  f.eval(kMaintenance);  // drain begins at T0
  f.now = T0 + 20s;
  f.eval(kFailing);
  CHECK(f.d().drain_began == T0);
  CHECK(!f.policy.next_wakeup());  // Down: no drain timer
  f.now = T0 + 25s;
  f.eval(kMaintenance);
  CHECK(f.policy.next_wakeup() == T0 + 30s);  // not T0 + 55 s
  f.now = T0 + 40s;
  f.eval(kFailing);
  f.now = T0 + 50s;
  auto ev = f.eval(kMaintenance);
  REQUIRE(ev.size() == 2);
  CHECK(std::holds_alternative<DrainPeriodAlreadyOver>(ev[1]));
  CHECK(f.routes().empty());
}

TEST_CASE("policy row drain-period: draining again after Up starts a new period") {
  Fixture f;
  f.eval(kMaintenance);
  f.now = T0 + 40s;
  f.policy.advance(f.now);
  f.eval(kHealthy);
  f.now = T0 + 100s;
  f.eval(kMaintenance);
  CHECK(f.d().drain_began == T0 + 100s);
  CHECK(f.routes().size() == 1);
}

TEST_CASE("policy row drain-period: a period that ended while Down does not fire later") {
  Fixture f;
  f.eval(kMaintenance);
  f.eval(kFailing);
  CHECK(f.policy.advance(f.now + 1h).empty());
}

// ---------------------------------------------------------------- the other policy rows

TEST_CASE("policy row action: down = announce keeps a failing service announced") {
  Fixture f;
  f.services[0].policy.down.action = conf::Action::Announce;
  f.services[0].policy.down.med = 500;
  f.eval(kFailing);
  REQUIRE(f.routes().size() == 1);
  CHECK(f.routes()[0].attrs->med == 500u);
}

TEST_CASE("policy row action: up = withdraw announces nothing while Up") {
  Fixture f;
  f.services[0].policy.up.action = conf::Action::Withdraw;
  f.eval(kHealthy);
  CHECK(f.d().state == ServiceState::Up);
  CHECK(!f.d().announced);
  CHECK(f.routes().empty());
}

TEST_CASE("policy row action: drained = withdraw withdraws at once, with no period to wait") {
  Fixture f;
  f.services[0].policy.drained.action = conf::Action::Withdraw;
  f.services[0].policy.drained.communities.clear();
  f.eval(kMaintenance);
  CHECK(f.routes().empty());
}

TEST_CASE("policy row med: sent as MULTI_EXIT_DISC of that state") {
  Fixture f;
  f.services[0].policy.up.med = 10;
  f.services[0].policy.drained.med = 1000;
  f.eval(kHealthy);
  CHECK(f.routes()[0].attrs->med == 10u);
  f.eval(kMaintenance);
  CHECK(f.routes()[0].attrs->med == 1000u);
}

TEST_CASE("policy row prepend: extra copies of local-as") {
  Fixture f;
  f.services[0].policy.up.prepend = 3;
  f.eval(kHealthy);
  CHECK(f.routes()[0].attrs->as_path_prepend == std::vector<std::uint32_t>(3, kLocalAs));
}

TEST_CASE("policy row communities: drained defaults to graceful-shutdown, up to none") {
  Fixture f;
  f.eval(kHealthy);
  CHECK(f.routes()[0].attrs->communities.empty());
  f.eval(kMaintenance);
  CHECK(f.routes()[0].attrs->communities == std::vector<bgp::Community>{bgp::kGracefulShutdown});
  f.services[0].policy.up.communities = {0xFDE80001};
  f.eval(kHealthy);
  CHECK(f.routes()[0].attrs->communities == std::vector<bgp::Community>{0xFDE80001});
}

TEST_CASE("policy row large-communities: attached as configured") {
  Fixture f;
  f.services[0].policy.up.large_communities = {{kLocalAs, 1, 2}};
  f.eval(kHealthy);
  REQUIRE(f.routes()[0].attrs->large_communities.size() == 1);
  CHECK(f.routes()[0].attrs->large_communities[0].local2 == 2u);
}

// ---------------------------------------------------------------- steering

TEST_CASE("steering: replaces prepend, and MED when it gives one, of whatever is announced") {
  Fixture f;
  f.services[0].policy.up.prepend = 1;
  f.services[0].policy.up.med = 10;
  f.eval(kHealthy);
  f.op.steering["dns"] = {4, std::nullopt};
  auto r = f.routes();
  CHECK(r[0].attrs->as_path_prepend.size() == 4);
  CHECK(r[0].attrs->med == 10u);  // kept
  f.op.steering["dns"] = {0, 77};
  r = f.routes();
  CHECK(r[0].attrs->as_path_prepend.empty());
  CHECK(r[0].attrs->med == 77u);
  f.eval(kMaintenance);  // drained: steering applies to the drained announcement too
  CHECK(f.routes()[0].attrs->med == 77u);
  CHECK(f.routes()[0].attrs->communities == std::vector<bgp::Community>{bgp::kGracefulShutdown});
  f.op.steering.clear();
  CHECK(f.routes()[0].attrs->as_path_prepend.empty());
}

TEST_CASE("steering: announces nothing for a withdrawn service") {
  Fixture f;
  f.op.steering["dns"] = {2, 5};
  f.eval(kFailing);
  CHECK(f.routes().empty());
}

// ---------------------------------------------------------------- publications

TEST_CASE("publish: prefix changes per service since the previous publication") {
  Fixture f;
  f.services.push_back(service("web", {P("198.51.100.1/32"), P("2001:db8::1/128")}));
  f.policy.set_services(f.services, f.now);
  f.eval(kHealthy);
  f.eval(kHealthy, kBound, "start", "web");
  auto p = f.policy.publish(f.world);
  REQUIRE(p.routes.size() == 1);  // one set per peer
  CHECK(p.routes.at("upstream")->size() == 3);
  REQUIRE(p.changes.size() == 2);
  CHECK(p.prefixes_before == 0);
  CHECK(p.prefixes_now == 3);
  f.eval(kFailing, kBound, "health change", "web");
  p = f.policy.publish(f.world);
  REQUIRE(p.changes.size() == 1);
  CHECK(p.changes[0].service == "web");
  CHECK(p.changes[0].withdrawn.size() == 2);
  CHECK(f.policy.publish(f.world).changes.empty());  // nothing new
  CHECK(f.policy.services_announced() == 1);
  f.policy.forget_published();
  p = f.policy.publish(f.world);
  REQUIRE(p.changes.size() == 1);
  CHECK(p.changes[0].announced.size() == 1);
}

// ---------------------------------------------------------------- reload

TEST_CASE("reload: a kept service keeps its state; a new one starts undecided; a removed one is forgotten") {
  Fixture f;
  f.services.push_back(service("web", {P("198.51.100.1/32")}));
  f.policy.set_services(f.services, f.now);
  f.eval(kHealthy);
  f.eval(kHealthy, kBound, "start", "web");
  f.policy.publish(f.world);

  std::vector<conf::ServiceConfig> next{service("dns", {P("192.0.2.53/32")}), service("ntp", {P("203.0.113.1/32")})};
  f.now += 1min;
  f.policy.set_services(next, f.now);
  CHECK(f.policy.services() == std::vector<std::string>{"dns", "ntp"});
  CHECK(f.d("dns").state == ServiceState::Up);
  CHECK(f.d("dns").since == T0);
  CHECK(f.d("ntp").changes == 0);
  CHECK(f.d("ntp").since == f.now);
  CHECK(!f.policy.decision("web"));
  CHECK(f.policy.evaluate("web", kHealthy, kBound, f.world, "reload", f.now).empty());
  auto ev = f.policy.evaluate("ntp", kHealthy, kBound, f.world, "reload", f.now);
  REQUIRE(only<StateChanged>(ev));
  auto p = f.policy.publish(f.world);
  REQUIRE(p.changes.size() == 2);
  CHECK(p.changes[0].service == "ntp");
  CHECK(p.changes[0].announced.size() == 1);
  CHECK(p.changes[1].service == "web");
  CHECK(p.changes[1].withdrawn.size() == 1);
}

TEST_CASE("reload: a changed policy applies to the kept state at once") {
  Fixture f;
  f.eval(kHealthy);
  std::vector<conf::ServiceConfig> next = f.services;
  next[0].policy.up.action = conf::Action::Withdraw;
  f.policy.set_services(next, f.now);
  CHECK(!f.d().announced);
  CHECK(f.routes().empty());
  CHECK(f.eval(kHealthy, kBound, "reload").empty());  // still Up: no state change
}

TEST_CASE("reload: a changed prefix list is announced and withdrawn prefix by prefix") {
  Fixture f;
  f.eval(kHealthy);
  f.policy.publish(f.world);
  std::vector<conf::ServiceConfig> next{service("dns", {P("192.0.2.54/32")})};
  f.policy.set_services(next, f.now);
  auto p = f.policy.publish(f.world);
  REQUIRE(p.changes.size() == 1);
  CHECK(p.changes[0].announced == std::vector<bgp::Prefix>{P("192.0.2.54/32")});
  CHECK(p.changes[0].withdrawn == std::vector<bgp::Prefix>{P("192.0.2.53/32")});
}

TEST_CASE("reload: the drain period of a kept drained service goes on from its start") {
  Fixture f;
  f.eval(kMaintenance);
  std::vector<conf::ServiceConfig> next = f.services;
  f.policy.set_services(next, f.now + 5s);
  CHECK(f.policy.next_wakeup() == T0 + 30s);
}

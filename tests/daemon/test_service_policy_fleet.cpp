// ServicePolicy with a [fleet]: the fleet drain holder and the fleet floor's answer as inputs,
// with a hand-advanced wall clock. One test per row of the floor in service_policy.hpp:
//   no [fleet] / no [service.fleet]     -> "floor: without ..."
//   checks fail, no answer yet          -> "floor: pending ..."
//   answer Hold                         -> "floor: Hold ..."
//   answer Withdraw / Local             -> "floor: Withdraw ...", "floor: Local ..."
//   process gone / address gone / drain -> "floor: never holds ..."
//   never Up since start                -> "floor: never holds a service not Up once ..."
#include <doctest/doctest.h>

#include "daemon/service_policy.hpp"
#include "daemon/state_file.hpp"

using namespace herald;
using namespace std::chrono_literals;
using daemon::AddressInput;
using daemon::FloorAnswers;
using daemon::FloorGrant;
using daemon::FloorHoldChanged;
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

conf::ServiceConfig fleet_service() {
  conf::ServiceConfig s;
  s.name = "dns";
  s.prefixes = {*bgp::Prefix::parse("198.51.100.53/32")};
  s.fleet = conf::ServiceFleet{};  // min-sites 1, held: prepend 3
  s.fleet->held.communities = {bgp::Community{65000u << 16 | 666u}};
  s.policy.down.action = conf::Action::Withdraw;
  return s;
}

const HealthInput kHealthy{ServiceState::Up, "dns ok"};
const HealthInput kFailing{ServiceState::Down, "dns NXDOMAIN (2 failing rounds)"};
const HealthInput kProcessGone{ServiceState::Down, "process unbound exited", true};
const AddressInput kBound{};
const AddressInput kGone{false, "198.51.100.53 not on lo"};

struct Fixture {
  std::vector<conf::ServiceConfig> services{fleet_service()};
  PersistentState op;
  FloorAnswers answers;
  PolicyWorld world{&op, Shutdown::No, kLocalAs, nullptr, &answers};
  ServicePolicy policy;
  WallClock::time_point now = T0;

  Fixture() { policy.set_services(services, now); }
  std::vector<PolicyEvent> eval(const HealthInput& h, const AddressInput& a = kBound) {
    return policy.evaluate("dns", h, a, world, "test", now);
  }
  const daemon::ServiceDecision& d() const { return *policy.decision("dns"); }
  std::vector<bgp::Route> routes() const { return policy.routes(world); }
};

template <class T>
const T* find(const std::vector<PolicyEvent>& ev) {
  for (const auto& e : ev)
    if (const auto* t = std::get_if<T>(&e)) return t;
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------- the floor

TEST_CASE("floor: without [fleet] a failing service withdraws at once, no question asked") {
  Fixture f;
  f.world.floor = nullptr;
  f.eval(kHealthy);
  f.now += 1s;
  f.eval(kFailing);
  CHECK(f.d().state == ServiceState::Down);
  CHECK(!f.d().announced);
  CHECK(!f.d().floor_question);
  CHECK(!f.d().floor_pending);
}

TEST_CASE("floor: without [service.fleet] the service withdraws at once even under a [fleet]") {
  Fixture f;
  f.services[0].fleet.reset();
  f.policy.set_services(f.services, f.now);
  f.eval(kHealthy);
  f.eval(kFailing);
  CHECK(!f.d().announced);
  CHECK(!f.d().floor_question);
}

TEST_CASE("floor: pending: failing checks with no answer yet change nothing until the floor answers") {
  Fixture f;
  f.eval(kHealthy);
  REQUIRE(f.d().floor_question);
  CHECK(!f.d().floor_question->holdable());
  f.now += 1s;
  CHECK(f.eval(kFailing).empty());
  CHECK(f.d().floor_pending);
  CHECK(f.d().floor_question->holdable());
  CHECK(f.d().state == ServiceState::Up);  // the previous decision stands
  CHECK(f.d().announced);
  CHECK(f.d().since == T0);
}

TEST_CASE("floor: never holds a service not Up once since start (nothing to keep)") {
  Fixture f;
  f.answers["dns"] = FloorGrant::Hold;
  f.eval(kFailing);
  CHECK(f.d().floor_question->never_up);
  CHECK(!f.d().floor_question->holdable());
  CHECK(!f.d().floor_pending);
  CHECK(!f.d().floor_held);
  CHECK(!f.d().announced);
}

TEST_CASE("floor: Hold keeps the failing service announced under [service.fleet.held], loudly") {
  Fixture f;
  f.eval(kHealthy);
  f.eval(kFailing);
  f.answers["dns"] = FloorGrant::Hold;
  f.now += 1s;
  auto ev = f.eval(kFailing);
  const auto* held = find<FloorHoldChanged>(ev);
  REQUIRE(held);
  CHECK(held->held);
  CHECK(held->reason.rfind("held by fleet floor", 0) == 0);
  CHECK(f.d().state == ServiceState::Down);
  CHECK(f.d().floor_held);
  CHECK(f.d().announced);
  CHECK(f.d().reason == "held by fleet floor: " + kFailing.reason);
  auto r = f.routes();
  REQUIRE(r.size() == 1);
  CHECK(r[0].attrs->as_path_prepend == std::vector<std::uint32_t>(3, kLocalAs));
  CHECK(r[0].attrs->communities == std::vector<bgp::Community>{65000u << 16 | 666u});

  SUBCASE("checks pass again: Up with the up policy, the hold ends") {
    f.answers.erase("dns");  // the wiring drops the answer when the question changes
    auto back = f.eval(kHealthy);
    const auto* end = find<FloorHoldChanged>(back);
    REQUIRE(end);
    CHECK(!end->held);
    CHECK(f.d().state == ServiceState::Up);
    CHECK(!f.d().floor_held);
    CHECK(f.routes()[0].attrs->as_path_prepend.empty());
  }
  SUBCASE("the floor later allows withdrawing: withdrawn, the hold ends") {
    f.answers["dns"] = FloorGrant::Withdraw;
    auto ev2 = f.eval(kFailing);
    REQUIRE(find<FloorHoldChanged>(ev2));
    CHECK(!f.d().announced);
    CHECK(f.routes().empty());
  }
}

TEST_CASE("floor: Withdraw withdraws as without the fleet") {
  Fixture f;
  f.eval(kHealthy);
  f.answers["dns"] = FloorGrant::Withdraw;
  auto ev = f.eval(kFailing);
  const auto* c = find<StateChanged>(ev);
  REQUIRE(c);
  CHECK(c->now == ServiceState::Down);
  CHECK(!find<FloorHoldChanged>(ev));
  CHECK(!f.d().announced);
  CHECK(f.d().reason == kFailing.reason);
}

TEST_CASE("floor: Local (etcd unreachable) decides alone: withdraws, and says why") {
  Fixture f;
  f.eval(kHealthy);
  f.answers["dns"] = FloorGrant::Local;
  f.eval(kFailing);
  CHECK(!f.d().announced);
  CHECK(f.d().reason == kFailing.reason + " (fleet unreachable: decided locally)");
  CHECK(f.d().floor_answer == FloorGrant::Local);
  SUBCASE("etcd back, the floor holds: announced again under the guard policy") {
    f.answers["dns"] = FloorGrant::Hold;
    auto ev = f.eval(kFailing);
    REQUIRE(find<FloorHoldChanged>(ev));
    CHECK(f.d().announced);
    CHECK(f.d().floor_held);
  }
}

TEST_CASE("floor: never holds when the DNS process is gone, whatever the answer") {
  Fixture f;
  f.eval(kHealthy);
  f.answers["dns"] = FloorGrant::Hold;
  f.eval(kProcessGone);
  CHECK(!f.d().floor_held);
  CHECK(!f.d().announced);
  CHECK(!f.d().floor_pending);
  CHECK(f.d().floor_question->process_gone);
  CHECK(!f.d().floor_question->holdable());
}

TEST_CASE("floor: never holds when the service address is gone, whatever the answer") {
  Fixture f;
  f.eval(kHealthy);
  f.answers["dns"] = FloorGrant::Hold;
  f.eval(kFailing, kGone);
  CHECK(!f.d().floor_held);
  CHECK(!f.d().announced);
  CHECK(f.d().reason == kGone.reason);
  CHECK(f.d().floor_question->address_gone);
}

TEST_CASE("floor: never overrides a drain: operator, fleet, or shutdown") {
  Fixture f;
  f.eval(kHealthy);
  f.answers["dns"] = FloorGrant::Hold;
  SUBCASE("operator") { f.op.drained["dns"] = {"maintenance", 1, false}; }
  SUBCASE("fleet") { f.op.fleet_drains["dns"] = {"region eu off", 1, false}; }
  SUBCASE("shutdown") { f.world.shutdown = Shutdown::Draining; }
  f.eval(kFailing);
  CHECK(!f.d().floor_held);
  CHECK(!f.d().announced);
  CHECK(f.d().floor_question->drained);
  CHECK(!f.d().floor_pending);
}

// ---------------------------------------------------------------- fleet drains

TEST_CASE("fleet drain: a holder of its own; the operator's undrain leaves it, the fleet's leaves the operator's") {
  Fixture f;
  f.eval(kHealthy);
  f.op.fleet_drains["dns"] = {"region eu off", 1'800'000'000'000, false};
  f.eval(kHealthy);
  CHECK(f.d().state == ServiceState::Drained);
  CHECK(f.d().reason == "drained by fleet: region eu off");
  CHECK(f.d().drain_holders == std::vector<std::string>{"fleet"});

  f.op.drained["dns"] = {"disk swap", 1'800'000'000'000, false};
  f.eval(kHealthy);
  CHECK(f.d().drain_holders == std::vector<std::string>{"operator", "fleet"});
  SUBCASE("the operator undrains: the fleet's drain stays") {
    f.op.drained.erase("dns");
    f.eval(kHealthy);
    CHECK(f.d().state == ServiceState::Drained);
    CHECK(f.d().drain_holders == std::vector<std::string>{"fleet"});
  }
  SUBCASE("the fleet undrains: the operator's drain stays") {
    f.op.fleet_drains.erase("dns");
    f.eval(kHealthy);
    CHECK(f.d().state == ServiceState::Drained);
    CHECK(f.d().drain_holders == std::vector<std::string>{"operator"});
  }
}

TEST_CASE("fleet drain: persisted in the state file, and read back") {
  PersistentState st;
  st.fleet_drains["dns"] = {"region eu off (by ops)", 1'800'000'000'123, false};
  auto back = daemon::decode_state(daemon::encode_state(st));
  REQUIRE(back);
  CHECK(back.value() == st);
  CHECK(!st.empty());
  CHECK(daemon::encode_state(PersistentState{}).find("fleet_drains") == std::string::npos);
}

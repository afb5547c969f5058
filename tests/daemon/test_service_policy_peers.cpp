// ServicePolicy's per-peer output (peer_routes): which peers get which service, and each peer's
// own attributes on top of the service's state policy (docs/configuration.md, [[service]]
// `peers` and the [[peer]] attribute keys). Hand-advanced wall clock, no I/O.
#include <doctest/doctest.h>

#include "daemon/service_policy.hpp"

using namespace herald;
using namespace std::chrono_literals;
using daemon::AddressInput;
using daemon::HealthInput;
using daemon::PersistentState;
using daemon::PolicyWorld;
using daemon::ServicePolicy;
using daemon::ServiceState;
using daemon::Shutdown;
using daemon::StateChanged;
using daemon::WallClock;

namespace {

constexpr std::uint32_t kLocalAs = 64500;
const WallClock::time_point T0 = WallClock::time_point{std::chrono::seconds(1'800'000'000)};
const HealthInput kHealthy{ServiceState::Up, "dns ok"};
const HealthInput kFailing{ServiceState::Down, "dns timeout"};

bgp::Prefix P(const char* text) { return *bgp::Prefix::parse(text); }

conf::PeerConfig peer(std::string name) {
  conf::PeerConfig p;
  p.name = std::move(name);
  return p;
}

conf::ServiceConfig service(std::string name, const char* prefix, std::vector<std::string> peers = {}) {
  conf::ServiceConfig s;
  s.name = std::move(name);
  s.prefixes = {P(prefix)};
  s.peers = std::move(peers);
  return s;
}

struct Fixture {
  std::vector<conf::PeerConfig> peers{peer("r1"), peer("r2")};
  std::vector<conf::ServiceConfig> services{service("dns", "192.0.2.53/32", {"r1"}),
                                            service("ntp", "192.0.2.123/32")};
  PersistentState op;
  PolicyWorld world{&op, Shutdown::No, kLocalAs, &peers};
  ServicePolicy policy;
  WallClock::time_point now = T0;

  Fixture() { policy.set_services(services, now); }
  void up(const std::string& name) { policy.evaluate(name, kHealthy, AddressInput{}, world, "test", now); }
  void down(const std::string& name) { policy.evaluate(name, kFailing, AddressInput{}, world, "test", now); }
  // The prefixes peer `name` is to announce, as text, in set order.
  std::vector<std::string> prefixes_of(const std::string& name) const {
    auto all = policy.peer_routes(world);
    REQUIRE(all.count(name) == 1);
    std::vector<std::string> out;
    for (const auto& r : *all.at(name)) out.push_back(r.prefix.to_string());
    return out;
  }
  const bgp::RouteAttributes& attrs_of(const std::string& name, const char* prefix) const {
    static bgp::PeerRoutes keep;  // keeps the returned attributes alive
    keep = policy.peer_routes(world);
    for (const auto& r : *keep.at(name))
      if (r.prefix == P(prefix)) return *r.attrs;
    FAIL("no route for " << prefix << " to " << name);
    return *keep.begin()->second->front().attrs;
  }
};

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("peers: a service naming peers goes to them only; one naming none goes to every peer") {
  Fixture f;
  f.up("dns");
  f.up("ntp");
  CHECK(f.prefixes_of("r1") == Strings{"192.0.2.53/32", "192.0.2.123/32"});
  CHECK(f.prefixes_of("r2") == Strings{"192.0.2.123/32"});
}

TEST_CASE("peers: every peer of the world has a set, an empty one when nothing goes to it") {
  Fixture f;
  f.up("dns");
  f.down("ntp");
  CHECK(f.prefixes_of("r1") == Strings{"192.0.2.53/32"});
  CHECK(f.prefixes_of("r2").empty());  // present, so the speaker withdraws what r2 had
}

TEST_CASE("peers: without a world's peers there is nothing to send to") {
  Fixture f;
  f.up("ntp");
  f.world.peers = nullptr;
  CHECK(f.policy.peer_routes(f.world).empty());
  CHECK(f.policy.routes(f.world).size() == 1);  // the services' own routes are still decided
}

TEST_CASE("peers: peers with equal routes share one set (a 100,000-prefix service is built once)") {
  Fixture f;
  f.peers.push_back(peer("r3"));
  f.up("ntp");
  auto all = f.policy.peer_routes(f.world);
  CHECK(all.at("r2") == all.at("r3"));  // the same shared_ptr
  CHECK(all.at("r1") == all.at("r2"));  // dns is Down: r1 gets just what the others get
  f.up("dns");
  all = f.policy.peer_routes(f.world);
  CHECK(all.at("r1") != all.at("r2"));
  CHECK(all.at("r2") == all.at("r3"));
}

TEST_CASE("peers: a reload moving a service to another peer keeps its state and moves its route") {
  Fixture f;
  f.up("dns");
  CHECK(f.prefixes_of("r1") == Strings{"192.0.2.53/32"});
  std::vector<conf::ServiceConfig> next{service("dns", "192.0.2.53/32", {"r2"}), service("ntp", "192.0.2.123/32")};
  f.now += 10s;
  f.policy.set_services(next, f.now);
  // The state carried over: no new decision needed, nothing to re-evaluate.
  CHECK(f.policy.decision("dns")->state == ServiceState::Up);
  CHECK(f.policy.decision("dns")->since == T0);
  CHECK(f.prefixes_of("r1").empty());
  CHECK(f.prefixes_of("r2") == Strings{"192.0.2.53/32"});
}

TEST_CASE("peer attributes: communities of each kind are added to the service's, sorted and unique") {
  Fixture f;
  f.services[1].policy.up.communities = {0xFDE80001};                            // 65000:1
  f.services[1].policy.up.extended_communities = {bgp::ext_community_as2(bgp::ExtCommunityKind::RouteTarget, 65000, 1)};
  f.peers[1].attributes.communities = {0xFDE80002, 0xFDE80001};                  // 65000:2, 65000:1 again
  f.peers[1].attributes.large_communities = {{65000, 7, 7}};
  f.peers[1].attributes.extended_communities = {bgp::ext_community_ipv4(bgp::ExtCommunityKind::RouteOrigin, 0xC0000201, 7)};
  f.policy.set_services(f.services, f.now);
  f.up("ntp");
  const auto& a = f.attrs_of("r2", "192.0.2.123/32");
  CHECK(a.communities == std::vector<bgp::Community>{0xFDE80001, 0xFDE80002});
  CHECK(a.large_communities == std::vector<bgp::LargeCommunity>{{65000, 7, 7}});
  REQUIRE(a.extended_communities.size() == 2);
  CHECK(bgp::to_string(a.extended_communities[0]) == "rt:65000:1");
  CHECK(bgp::to_string(a.extended_communities[1]) == "soo:192.0.2.1:7");
  // r1 has no attributes of its own: the service's alone.
  CHECK(f.attrs_of("r1", "192.0.2.123/32").communities == std::vector<bgp::Community>{0xFDE80001});
}

TEST_CASE("peer attributes: med replaces the service's, prepend adds to it, local-pref is the peer's") {
  Fixture f;
  f.services[1].policy.up.med = 10;
  f.services[1].policy.up.prepend = 1;
  f.peers[1].attributes.med = 200;
  f.peers[1].attributes.prepend = 2;
  f.peers[1].attributes.local_pref = 300;
  f.policy.set_services(f.services, f.now);
  f.up("ntp");
  const auto& a = f.attrs_of("r2", "192.0.2.123/32");
  CHECK(a.med == 200u);
  CHECK(a.as_path_prepend == std::vector<std::uint32_t>(3, kLocalAs));
  CHECK(a.local_pref == 300u);
  const auto& plain = f.attrs_of("r1", "192.0.2.123/32");
  CHECK(plain.med == 10u);
  CHECK(plain.as_path_prepend == std::vector<std::uint32_t>(1, kLocalAs));
  CHECK(!plain.local_pref);
}

TEST_CASE("peer attributes: steering replaces the service's prepend and MED, the peer's prepend still adds") {
  Fixture f;
  f.services[1].policy.up.prepend = 1;
  f.peers[1].attributes.med = 200;
  f.peers[1].attributes.prepend = 2;
  f.policy.set_services(f.services, f.now);
  f.up("ntp");
  f.op.steering["ntp"] = PersistentState::Steering{4, 999};
  const auto& a = f.attrs_of("r2", "192.0.2.123/32");
  CHECK(a.med == 999u);  // the operator's decision now wins over configuration
  CHECK(a.as_path_prepend == std::vector<std::uint32_t>(6, kLocalAs));
}

TEST_CASE("peer attributes: a withdrawn state stays withdrawn whatever the peer adds") {
  Fixture f;
  f.peers[1].attributes.communities = {0xFDE80002};
  f.up("ntp");
  f.down("ntp");
  CHECK(f.prefixes_of("r2").empty());
}

TEST_CASE("peer attributes: a drained service carries the peer's communities with GRACEFUL_SHUTDOWN") {
  Fixture f;
  f.peers[1].attributes.communities = {0xFDE80002};
  f.up("ntp");
  f.op.drained["ntp"] = PersistentState::DrainRecord{"maintenance", std::chrono::duration_cast<std::chrono::milliseconds>(f.now.time_since_epoch()).count(), false};
  f.policy.evaluate("ntp", kHealthy, AddressInput{}, f.world, "operator drain", f.now);
  CHECK(f.attrs_of("r2", "192.0.2.123/32").communities ==
        std::vector<bgp::Community>{0xFDE80002, bgp::kGracefulShutdown});
}

TEST_CASE("publish: hands every peer its own set and logs each service's prefix change once") {
  Fixture f;
  f.up("dns");
  auto p = f.policy.publish(f.world);
  REQUIRE(p.routes.size() == 2);
  CHECK(p.routes.at("r1")->size() == 1);
  CHECK(p.routes.at("r2")->empty());
  REQUIRE(p.changes.size() == 1);
  CHECK(p.changes[0].service == "dns");
}

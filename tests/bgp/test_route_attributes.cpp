// Interned route attributes, and the Adj-RIB-Out's delta semantics over them checked against a
// plain model (std::map per prefix) on random route sets.
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "bgp/adj_rib_out.hpp"
#include "bgp/route_attributes.hpp"

namespace herald::bgp {
namespace {

RouteAttributes with_med(std::uint32_t med) {
  RouteAttributes a;
  a.med = med;
  return a;
}

Prefix v4(std::uint32_t host_order, std::uint8_t length = 32) {
  Prefix p;
  p.addr = IpAddress::v4(host_order);
  p.length = length;
  return p;
}

TEST_CASE("route attributes: equal values share one interned copy") {
  const std::size_t before = SharedAttributes::interned_count();
  RouteAttributes a = with_med(7001);
  a.communities = {0xFDE80064};  // 65000:100
  a.large_communities = {{65000, 1, 2}};
  a.as_path_prepend = {65000, 65000};
  {
    const SharedAttributes x(a);
    const SharedAttributes y(RouteAttributes{a});  // an equal value built separately
    CHECK(x.get() == y.get());
    CHECK(*x == a);
    CHECK(SharedAttributes::interned_count() == before + 1);
    // Each field takes part in the key: change one and it is another set.
    RouteAttributes b = a;
    b.large_communities[0].local2 = 3;
    const SharedAttributes z(b);
    CHECK(z.get() != x.get());
    CHECK_FALSE(z == x);
    CHECK(SharedAttributes::interned_count() == before + 2);
    // A copy is a reference, never a deep copy.
    const SharedAttributes copy = x;
    CHECK(copy.get() == x.get());
  }
  // The last owner gone, the table forgets the sets.
  CHECK(SharedAttributes::interned_count() == before);
  // Defaults: one shared copy of the default attributes.
  CHECK(SharedAttributes().get() == SharedAttributes(RouteAttributes{}).get());
}

TEST_CASE("route attributes: 100,000 routes with equal attributes hold one copy") {
  const std::size_t before = SharedAttributes::interned_count();
  const Route first{v4(0xC6120000u), with_med(7002)};
  std::vector<Route> routes(100000, first);
  for (std::uint32_t i = 0; i < routes.size(); ++i) routes[i].prefix = v4(0xC6120000u + i);
  CHECK(SharedAttributes::interned_count() == before + 1);
  AdjRibOut rib;
  const RibDiff d = rib.diff(kIpv4Unicast, routes);
  REQUIRE(d.announced.size() == 1);  // one group: the packer puts them in as few UPDATEs as fit
  CHECK(d.announced.begin()->second.size() == 100000);
  rib.apply(kIpv4Unicast, d);
  CHECK(rib.size(kIpv4Unicast) == 100000);
  CHECK(SharedAttributes::interned_count() == before + 1);  // the Adj-RIB-Out shares it too
  CHECK(rib.diff(kIpv4Unicast, routes).empty());
}

// The reference: what the Adj-RIB-Out must hold after each step, as a map.
using Model = std::map<Prefix, RouteAttributes>;

TEST_CASE("adj_rib_out: random route sets diff and apply like a per-prefix map") {
  std::mt19937 rng(9);
  const std::vector<RouteAttributes> pool{RouteAttributes{}, with_med(1), with_med(2), with_med(3)};
  AdjRibOut rib;
  Model have;
  int bad_withdrawals = 0, bad_announcements = 0, bad_content = 0;
  for (int step = 0; step < 200; ++step) {
    // A random desired set over 64 IPv4 and 16 IPv6 prefixes, some listed twice, in any order.
    std::vector<Route> desired;
    const int n = static_cast<int>(rng() % 90);
    for (int i = 0; i < n; ++i) {
      Prefix p = v4(0xC0000200u + (rng() % 64), 32);
      if (rng() % 5 == 0) {
        p = *Prefix::parse("2001:db8::/48");
        p.addr.bytes[5] = static_cast<std::uint8_t>(rng() % 16);
      }
      desired.push_back(Route{p, pool[rng() % pool.size()]});
    }
    if (step % 50 == 49) desired.clear();  // everything withdrawn now and then
    Model want;
    for (const auto& r : desired)
      if (r.prefix.family() == kIpv4Unicast) want[r.prefix] = *r.attrs;  // the later wins
    // Expected delta.
    std::vector<Prefix> withdrawn;
    std::map<RouteAttributes, std::vector<Prefix>> announced;
    for (const auto& [p, a] : have)
      if (!want.count(p)) withdrawn.push_back(p);
    for (const auto& [p, a] : want)
      if (auto it = have.find(p); it == have.end() || !(it->second == a)) announced[a].push_back(p);

    const RibDiff d = rib.diff(kIpv4Unicast, desired);
    bad_withdrawals += d.withdrawn != withdrawn;
    bad_announcements += d.announced != announced;
    rib.apply(kIpv4Unicast, d);
    have = want;
    bad_content += rib.size(kIpv4Unicast) != have.size();
    std::map<RouteAttributes, std::vector<Prefix>> grouped;
    for (const auto& [p, a] : have) grouped[a].push_back(p);
    bad_content += rib.grouped(kIpv4Unicast) != grouped;
    bad_content += rib.size(kIpv6Unicast) != 0;  // never applied
  }
  CHECK(bad_withdrawals == 0);
  CHECK(bad_announcements == 0);
  CHECK(bad_content == 0);
}

TEST_CASE("adj_rib_out: apply of a hand-made delta replaces, adds and ignores unknown withdrawals") {
  AdjRibOut rib;
  RibDiff first;
  first.announced[with_med(1)] = {v4(0xC0000201u), v4(0xC0000203u)};
  first.announced[with_med(2)] = {v4(0xC0000202u)};
  rib.apply(kIpv4Unicast, first);
  RibDiff second;
  second.withdrawn = {v4(0xC0000201u), v4(0xC0000209u)};  // .9 was never announced
  second.announced[with_med(3)] = {v4(0xC0000203u), v4(0xC0000204u)};
  rib.apply(kIpv4Unicast, second);
  const auto g = rib.grouped(kIpv4Unicast);
  REQUIRE(g.size() == 2);
  CHECK(g.at(with_med(2)) == std::vector<Prefix>{v4(0xC0000202u)});
  CHECK(g.at(with_med(3)) == std::vector<Prefix>{v4(0xC0000203u), v4(0xC0000204u)});
}

}  // namespace
}  // namespace herald::bgp

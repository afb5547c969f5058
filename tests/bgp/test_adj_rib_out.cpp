// Adj-RIB-Out diffs and the received-prefix fingerprint set.
#include <doctest/doctest.h>

#include <random>
#include <set>

#include "bgp/adj_rib_out.hpp"
#include "bgp/prefix_fingerprints.hpp"

namespace herald::bgp {
namespace {

Prefix pfx(const char* s) { return *Prefix::parse(s); }

TEST_CASE("adj_rib_out: diff adds, changes, withdraws and groups by attributes") {
  AdjRibOut rib;
  RouteAttributes plain;
  RouteAttributes tagged;
  tagged.communities = {kGracefulShutdown};
  const std::vector<Route> first{{pfx("192.0.2.53/32"), plain},
                                 {pfx("198.51.100.0/24"), plain},
                                 {pfx("203.0.113.0/24"), tagged},
                                 {pfx("2001:db8:53::1/128"), plain}};
  auto d = rib.diff(kIpv4Unicast, first);
  CHECK(d.withdrawn.empty());
  REQUIRE(d.announced.size() == 2);
  CHECK(d.announced[plain] == std::vector<Prefix>{pfx("192.0.2.53/32"), pfx("198.51.100.0/24")});
  CHECK(d.announced[tagged] == std::vector<Prefix>{pfx("203.0.113.0/24")});
  rib.apply(kIpv4Unicast, d);
  CHECK(rib.size(kIpv4Unicast) == 3);
  CHECK(rib.size(kIpv6Unicast) == 0);  // other families untouched

  // Same content: nothing to do.
  CHECK(rib.diff(kIpv4Unicast, first).empty());

  // 198.51.100.0/24 changes attributes, 203.0.113.0/24 goes away.
  const std::vector<Route> second{{pfx("192.0.2.53/32"), plain}, {pfx("198.51.100.0/24"), tagged}};
  d = rib.diff(kIpv4Unicast, second);
  CHECK(d.withdrawn == std::vector<Prefix>{pfx("203.0.113.0/24")});
  REQUIRE(d.announced.size() == 1);
  CHECK(d.announced[tagged] == std::vector<Prefix>{pfx("198.51.100.0/24")});
  rib.apply(kIpv4Unicast, d);
  CHECK(rib.grouped(kIpv4Unicast)[tagged] == std::vector<Prefix>{pfx("198.51.100.0/24")});

  // Empty desired set: withdraw everything.
  d = rib.diff(kIpv4Unicast, {});
  CHECK(d.withdrawn == std::vector<Prefix>{pfx("192.0.2.53/32"), pfx("198.51.100.0/24")});
  CHECK(d.announced.empty());
  rib.apply(kIpv4Unicast, d);
  CHECK(rib.size(kIpv4Unicast) == 0);
}

TEST_CASE("adj_rib_out: a prefix listed twice keeps its last attributes") {
  AdjRibOut rib;
  RouteAttributes a;
  RouteAttributes b;
  b.med = 5;
  auto d = rib.diff(kIpv4Unicast, {{pfx("192.0.2.53/32"), a}, {pfx("192.0.2.53/32"), b}});
  REQUIRE(d.announced.size() == 1);
  CHECK(d.announced.begin()->first == b);
}

TEST_CASE("adj_rib_out: prefix fingerprints behave like a set") {
  PrefixFingerprints fp;
  CHECK(fp.insert(pfx("192.0.2.0/24")));
  CHECK_FALSE(fp.insert(pfx("192.0.2.0/24")));
  CHECK(fp.insert(pfx("192.0.2.0/25")));  // same address, other length
  CHECK(fp.insert(pfx("2001:db8::/32")));
  CHECK(fp.size() == 3);
  CHECK(fp.erase(pfx("192.0.2.0/24")));
  CHECK_FALSE(fp.erase(pfx("192.0.2.0/24")));
  CHECK(fp.contains(pfx("192.0.2.0/25")));
  CHECK(fp.size() == 2);

  // Random inserts and erases against std::set (exercises growth and backward-shift deletes).
  PrefixFingerprints big;
  std::set<Prefix> ref;
  std::mt19937 rng(3);
  int mismatches = 0;
  for (int i = 0; i < 20000; ++i) {
    Prefix p;
    p.addr = IpAddress::v4(0xC6120000u + (rng() % 4096) * 256);  // 198.18.0.0/15 range
    p.length = 24;
    if (rng() % 3 == 0) {
      mismatches += big.erase(p) != (ref.erase(p) == 1);
    } else {
      mismatches += big.insert(p) != ref.insert(p).second;
    }
  }
  CHECK(mismatches == 0);
  CHECK(big.size() == ref.size());
  int missing = 0;
  for (const auto& p : ref) missing += !big.contains(p);
  CHECK(missing == 0);

  // Withdrawing all but a few shrinks the table (rehashing the survivors); clear() frees it.
  const std::size_t peak = big.memory_bytes();
  std::size_t left = ref.size();
  for (const auto& p : ref) {
    if (left <= 5) break;
    CHECK(big.erase(p));
    --left;
  }
  CHECK(big.size() == 5);
  CHECK(big.memory_bytes() < peak / 16);
  int kept = 0;
  for (const auto& p : ref) kept += big.contains(p);
  CHECK(kept == 5);
  big.clear();
  CHECK(big.size() == 0);
  CHECK(big.memory_bytes() == sizeof(PrefixFingerprints));
}

}  // namespace
}  // namespace herald::bgp

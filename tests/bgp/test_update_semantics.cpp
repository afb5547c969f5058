// Semantic checks of received UPDATEs (RFC 4271 6.3) with their RFC 7606 outcomes: NEXT_HOP
// values that are no host address or our own address, the first-AS check on external
// sessions, the route-reflection attributes from external peers (RFC 7606 7.9, 7.10), and
// route leaks found by the Only-to-Customer attribute (RFC 9234 5).
// The messages are byte vectors, one comment per field.
#include <doctest/doctest.h>

#include <algorithm>

#include "bgp/codec.hpp"
#include "bgp/otc.hpp"
#include "bgp/peer.hpp"
#include "bgp/route_checks.hpp"
#include "codec_test_util.hpp"
#include "session_test_support.hpp"

namespace herald::bgp {
namespace {

using namespace testing;
using namespace test;

// NEXT_HOP attribute carrying a.b.c.d.
Bytes next_hop(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return {0x40, 0x03, 0x04,  // well-known transitive, NEXT_HOP, length 4
          a, b, c, d};       // the address
}

const Bytes kOrigin = {0x40, 0x01, 0x01,  // well-known transitive, ORIGIN, length 1
                       0x00};             // IGP
const Bytes kAsPath65001 = {0x40, 0x02, 0x06,        // well-known transitive, AS_PATH, length 6
                            0x02, 0x01,              // AS_SEQUENCE of 1
                            0x00, 0x00, 0xFD, 0xE9}; // 65001 (4-octet)
const Bytes kNlri = {0x18, 0xC6, 0x33, 0x64};        // 198.51.100.0/24


// A Peer with an Established session: we are 192.0.2.1 in AS 65000, the neighbor 192.0.2.2
// in AS 65001 (session_test_support.hpp).
struct Session {
  explicit Session(PeerConfig c = base_config()) : peer(std::move(c), 7) {
    auto a = peer.start(now);
    conn = first_of<Connect>(a)->conn;
    peer.on_connected(conn, now, kLocal, kRemote, false);
    peer.on_bytes(conn, encode(peer_open(), CodecOptions{}), now);
    peer.on_bytes(conn, encode(Keepalive{}, CodecOptions{}), now);
    REQUIRE(peer.state() == State::Established);
  }
  Actions feed(const Bytes& wire) { return peer.on_bytes(conn, wire, now); }
  std::size_t received() { return peer.status(now).received[kIpv4Unicast]; }
  bool logged(const Actions& a, const std::string& what) {
    return std::any_of(a.begin(), a.end(), [&](const Action& x) {
      const auto* l = std::get_if<Log>(&x);
      return l && l->text.find(what) != std::string::npos;
    });
  }
  Peer peer;
  Clock::time_point now = t0();
  ConnId conn = 0;
};

}  // namespace

TEST_CASE("RFC 4271 6.3: a NEXT_HOP that is no host address is treat-as-withdraw (RFC 7606 7.3)") {
  struct Case {
    const char* name;
    Bytes nh;
  };
  const Case cases[] = {
      {"0.0.0.0", next_hop(0, 0, 0, 0)},
      {"0.1.2.3 (this network)", next_hop(0, 1, 2, 3)},
      {"224.0.0.5 (multicast)", next_hop(224, 0, 0, 5)},
      {"239.255.255.255 (multicast)", next_hop(239, 255, 255, 255)},
      {"240.0.0.1 (reserved)", next_hop(240, 0, 0, 1)},
      {"255.255.255.255 (broadcast)", next_hop(255, 255, 255, 255)},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto d = decoded_update(update_body({}, cat({kOrigin, kAsPath65001, c.nh}), kNlri));
    CHECK(d.action == ErrorAction::TreatAsWithdraw);
    REQUIRE(d.problems.size() == 1);  // not also reported as a missing NEXT_HOP
    CHECK(d.problems[0].find("NEXT_HOP") != std::string::npos);
    CHECK(std::get<Update>(d.message).nlri.size() == 1);  // reported, so it can be withdrawn
  }
  // Host addresses next to those ranges are fine, and so is loopback (a router on the same
  // host peers over it).
  for (const auto& nh : {next_hop(1, 0, 0, 1), next_hop(127, 0, 0, 1), next_hop(223, 255, 255, 254)}) {
    CHECK(decoded_update(update_body({}, cat({kOrigin, kAsPath65001, nh}), kNlri)).action == ErrorAction::None);
  }
}

TEST_CASE("MP_REACH_NLRI next hops that are no host address are treat-as-withdraw") {
  auto mp = [](std::uint8_t first, std::uint8_t last) {
    return Bytes{0x80, 0x0E, 0x18,                    // optional, MP_REACH_NLRI, length 24
                 0x00, 0x02, 0x01,                    // AFI 2 (IPv6), SAFI 1 (unicast)
                 0x10,                                // next hop length 16
                 first, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last,  // next hop
                 0x00,                                // reserved
                 0x10, 0x20, 0x01};                   // NLRI 2001::/16
  };
  CHECK(decoded_update(update_body({}, cat({mp(0x00, 0x00), kOrigin, kAsPath65001}), {})).action ==
        ErrorAction::TreatAsWithdraw);  // ::
  CHECK(decoded_update(update_body({}, cat({mp(0x00, 0x01), kOrigin, kAsPath65001}), {})).action ==
        ErrorAction::None);  // ::1, loopback: allowed
  CHECK(decoded_update(update_body({}, cat({mp(0xFF, 0x01), kOrigin, kAsPath65001}), {})).action ==
        ErrorAction::TreatAsWithdraw);  // ff00::1
  CHECK(decoded_update(update_body({}, cat({mp(0x20, 0x01), kOrigin, kAsPath65001}), {})).action ==
        ErrorAction::None);  // 2000::1
}

TEST_CASE("RFC 7606 7.9, 7.10: ORIGINATOR_ID and CLUSTER_LIST") {
  const Bytes originator_id = {0x80, 0x09, 0x04,      // optional, ORIGINATOR_ID, length 4
                               192, 0, 2, 9};         // 192.0.2.9
  const Bytes originator_id_5 = {0x80, 0x09, 0x05,    // optional, ORIGINATOR_ID, length 5
                                 192, 0, 2, 9, 0};    // one octet too many
  const Bytes cluster_list = {0x80, 0x0A, 0x04,       // optional, CLUSTER_LIST, length 4
                              192, 0, 2, 10};         // cluster 192.0.2.10
  const Bytes cluster_list_3 = {0x80, 0x0A, 0x03,     // optional, CLUSTER_LIST, length 3
                                192, 0, 2};           // not a multiple of 4
  const Bytes mandatory = cat({kOrigin, kAsPath65001, next_hop(192, 0, 2, 2)});
  CodecOptions ibgp;
  ibgp.ibgp = true;
  SUBCASE("from an external peer: attribute discard, whatever they hold") {
    for (const auto& a : {originator_id, originator_id_5, cluster_list, cluster_list_3}) {
      auto d = decoded_update(update_body({}, cat({mandatory, a}), kNlri));
      CHECK(d.action == ErrorAction::AttributeDiscard);
      CHECK(std::get<Update>(d.message).attrs.unknown.empty());
    }
  }
  SUBCASE("from an internal peer: a bad length is treat-as-withdraw, a good one is kept") {
    CHECK(decoded_update(update_body({}, cat({mandatory, originator_id_5}), kNlri), ibgp).action ==
          ErrorAction::TreatAsWithdraw);
    CHECK(decoded_update(update_body({}, cat({mandatory, cluster_list_3}), kNlri), ibgp).action ==
          ErrorAction::TreatAsWithdraw);
    auto d = decoded_update(update_body({}, cat({mandatory, originator_id, cluster_list}), kNlri), ibgp);
    CHECK(d.action == ErrorAction::None);
    CHECK(std::get<Update>(d.message).attrs.unknown.size() == 2);
  }
}

TEST_CASE("peer: a NEXT_HOP equal to our own address is treat-as-withdraw, session kept") {
  Session s;
  const Bytes good = update_message({}, cat({kOrigin, kAsPath65001, next_hop(192, 0, 2, 2)}), kNlri);
  s.feed(good);
  REQUIRE(s.received() == 1);
  // The same prefix again with NEXT_HOP 192.0.2.1: our end of the session.
  auto a = s.feed(update_message({}, cat({kOrigin, kAsPath65001, next_hop(192, 0, 2, 1)}), kNlri));
  CHECK(s.peer.state() == State::Established);
  CHECK(all_of<Send>(a).empty());  // no NOTIFICATION (RFC 4271 6.3)
  CHECK(s.received() == 0);        // the earlier route is gone too: treat-as-withdraw
  CHECK(s.logged(a, "our own address"));
}

TEST_CASE("peer: first-AS check on an external session (RFC 4271 6.3, RFC 7606 7.2)") {
  Session s;
  s.feed(update_message({}, cat({kOrigin, kAsPath65001, next_hop(192, 0, 2, 2)}), kNlri));
  REQUIRE(s.received() == 1);
  const Bytes path_65002 = {0x40, 0x02, 0x0A,         // well-known transitive, AS_PATH, length 10
                            0x02, 0x02,               // AS_SEQUENCE of 2
                            0x00, 0x00, 0xFD, 0xEA,   // 65002: not the neighbor
                            0x00, 0x00, 0xFD, 0xE9};  // 65001
  auto a = s.feed(update_message({}, cat({kOrigin, path_65002, next_hop(192, 0, 2, 2)}), kNlri));
  CHECK(s.peer.state() == State::Established);
  CHECK(all_of<Send>(a).empty());
  CHECK(s.received() == 0);
  CHECK(s.logged(a, "leftmost AS 65002 is not the peer's AS 65001"));

  const Bytes empty_path = {0x40, 0x02, 0x00};  // AS_PATH, length 0
  s.feed(update_message({}, cat({kOrigin, kAsPath65001, next_hop(192, 0, 2, 2)}), kNlri));
  REQUIRE(s.received() == 1);
  a = s.feed(update_message({}, cat({kOrigin, empty_path, next_hop(192, 0, 2, 2)}), kNlri));
  CHECK(s.received() == 0);
  CHECK(s.logged(a, "AS_PATH is empty"));

  const Bytes set_first = {0x40, 0x02, 0x06,          // AS_PATH, length 6
                           0x01, 0x01,                // AS_SET of 1
                           0x00, 0x00, 0xFD, 0xE9};   // {65001}
  s.feed(update_message({}, cat({kOrigin, kAsPath65001, next_hop(192, 0, 2, 2)}), kNlri));
  a = s.feed(update_message({}, cat({kOrigin, set_first, next_hop(192, 0, 2, 2)}), kNlri));
  CHECK(s.received() == 0);
}

TEST_CASE("session_checks: skipped where the RFCs say so") {
  Update u;
  u.nlri = {*Prefix::parse("198.51.100.0/24")};
  u.attrs.origin = Origin::Igp;
  u.attrs.next_hop = *IpAddress::parse("192.0.2.2");
  u.attrs.as_path = AsPath{AsSegment{AsSegmentType::AsSequence, {65002}}};
  SessionFacts f;
  f.peer_as = 65001;
  f.own_addresses = {*IpAddress::parse("192.0.2.1"), *IpAddress::parse("2001:db8::1")};
  CHECK(session_checks(u, f).size() == 1);
  f.check_first_as = false;  // towards a route server (RFC 7947 2.2.2.2)
  CHECK(session_checks(u, f).empty());
  f.check_first_as = true;
  f.ebgp = false;  // internal: the path need not start with anyone in particular
  CHECK(session_checks(u, f).empty());
  f.ebgp = true;
  // RFC 6793 4.2.2: a 2-octet speaker with a 4-octet AS puts AS_TRANS first.
  f.peer_as = 4200000001;
  f.four_octet_as = false;
  u.attrs.as_path = AsPath{AsSegment{AsSegmentType::AsSequence, {kAsTrans}}};
  CHECK(session_checks(u, f).empty());
  // Our IPv6 next hop (configured for an IPv4 session) sent back to us in MP_REACH_NLRI.
  Update v6;
  v6.attrs.origin = Origin::Igp;
  v6.attrs.as_path = AsPath{AsSegment{AsSegmentType::AsSequence, {kAsTrans}}};
  v6.attrs.mp_reach = MpReach{kIpv6Unicast, *IpAddress::parse("2001:db8::1"), std::nullopt,
                              {*Prefix::parse("2001:db8:53::/48")}};
  REQUIRE(session_checks(v6, f).size() == 1);
  CHECK(session_checks(v6, f)[0].find("2001:db8::1 is our own address") != std::string::npos);
  // An UPDATE that only withdraws is never faulted.
  Update w;
  w.withdrawn = u.nlri;
  CHECK(session_checks(w, f).empty());
}

}  // namespace herald::bgp

namespace herald::bgp {
namespace {

PeerConfig with_role(std::optional<Role> r) {
  auto c = base_config();
  c.role = r;
  return c;
}

// ORIGIN, AS_PATH [65001], NEXT_HOP 192.0.2.2, then OTC with the given AS.
Bytes route_with_otc(std::uint8_t b2, std::uint8_t b3) {
  const Bytes otc = {0xC0,                  // optional transitive
                     0x23,                  // type 35, OTC
                     0x04,                  // length 4
                     0x00, 0x00, b2, b3};   // the AS that set it
  return update_message({}, cat({kOrigin, kAsPath65001, next_hop(192, 0, 2, 2), otc}), kNlri);
}
const Bytes kNoOtc = update_message({}, cat({kOrigin, kAsPath65001, next_hop(192, 0, 2, 2)}), kNlri);

}  // namespace

TEST_CASE("RFC 9234 5 ingress rule 1: OTC on a route from a customer or an RS client is a leak") {
  for (Role local : {Role::Provider, Role::RouteServer}) {
    CAPTURE(to_string(local));
    Session s(with_role(local));
    s.feed(kNoOtc);
    REQUIRE(s.received() == 1);  // without OTC the route stands
    auto a = s.feed(route_with_otc(0xFD, 0xE9));  // OTC 65001: the customer's own AS, still a leak
    CHECK(s.peer.state() == State::Established);
    CHECK(all_of<Send>(a).empty());  // no NOTIFICATION: the route is ineligible, the session stays
    CHECK(s.received() == 0);        // and the earlier copy of the route is gone with it
    CHECK(s.logged(a, local == Role::Provider ? "route leak detected: OTC 65001 on a route from a customer"
                                              : "route leak detected: OTC 65001 on a route from a route server client"));
  }
}

TEST_CASE("RFC 9234 5 ingress rule 2: from a peer, only OTC equal to the peer's AS passes") {
  Session s(with_role(Role::Peer));
  s.feed(route_with_otc(0xFD, 0xE9));  // OTC 65001 = the peer's AS: it marked its own route
  CHECK(s.received() == 1);
  auto a = s.feed(route_with_otc(0xFD, 0xEA));  // OTC 65002: someone else's route, leaked by the peer
  CHECK(s.received() == 0);
  CHECK(s.logged(a, "route leak detected: OTC 65002 on a route from a peer whose AS is 65001"));
  s.feed(kNoOtc);  // no OTC from a peer: accepted (rule 3 adds it)
  CHECK(s.received() == 1);
}

TEST_CASE("RFC 9234 5: from a provider or a route server, or without a role, OTC is no leak") {
  for (std::optional<Role> local : {std::optional<Role>(Role::Customer), std::optional<Role>(Role::RsClient),
                                    std::optional<Role>()}) {
    CAPTURE(local ? to_string(*local) : "no role");
    Session s(with_role(local));
    auto a = s.feed(route_with_otc(0xFD, 0xEA));
    CHECK(s.received() == 1);
    CHECK_FALSE(s.logged(a, "route leak"));
  }
}

TEST_CASE("RFC 9234 5: a malformed OTC is treat-as-withdraw whatever the role") {
  Session s;  // no role
  s.feed(kNoOtc);
  REQUIRE(s.received() == 1);
  const Bytes otc_len_3 = {0xC0, 0x23, 0x03,   // optional transitive, OTC, length 3: not 4
                           0x00, 0xFD, 0xE9};  // three octets
  auto a = s.feed(update_message({}, cat({kOrigin, kAsPath65001, next_hop(192, 0, 2, 2), otc_len_3}), kNlri));
  CHECK(s.peer.state() == State::Established);
  CHECK(s.received() == 0);
  CHECK(s.logged(a, "OTC: length 3, expected 4 (treat-as-withdraw)"));
}

TEST_CASE("otc_on_ingress: rule 3 adds the neighbor's AS from providers, peers and route servers") {
  CHECK(otc_on_ingress(Role::Customer, 65001, std::nullopt).add == 65001u);  // from a provider
  CHECK(otc_on_ingress(Role::Peer, 65001, std::nullopt).add == 65001u);
  CHECK(otc_on_ingress(Role::RsClient, 65001, std::nullopt).add == 65001u);  // from a route server
  CHECK_FALSE(otc_on_ingress(Role::Customer, 65001, 64999u).add);  // present: kept as received
  CHECK_FALSE(otc_on_ingress(Role::Customer, 65001, 64999u).leak);
  CHECK_FALSE(otc_on_ingress(Role::Provider, 65001, std::nullopt).add);  // from a customer: nothing
  CHECK_FALSE(otc_on_ingress(Role::Provider, 65001, std::nullopt).leak);
  CHECK_FALSE(otc_on_ingress(Role::RouteServer, 65001, std::nullopt).add);
  CHECK_FALSE(otc_on_ingress(std::nullopt, 65001, std::nullopt).add);  // no role: no procedure
  CHECK_FALSE(otc_on_ingress(std::nullopt, 65001, 1u).leak);
}

TEST_CASE("otc_on_egress: OTC = our AS towards customers, peers and RS clients only") {
  CHECK(otc_on_egress(Role::Provider, 65000) == 65000u);
  CHECK(otc_on_egress(Role::Peer, 65000) == 65000u);
  CHECK(otc_on_egress(Role::RouteServer, 65000) == 65000u);
  CHECK_FALSE(otc_on_egress(Role::Customer, 65000));
  CHECK_FALSE(otc_on_egress(Role::RsClient, 65000));
  CHECK_FALSE(otc_on_egress(std::nullopt, 65000));
}

}  // namespace herald::bgp

// Peer engine: bytes in, actions out. The neighbor's messages are produced with the codec and
// ours are decoded with it, so these tests check what goes on the wire.
#include <doctest/doctest.h>

#include <algorithm>

#include "bgp/codec.hpp"
#include "bgp/peer.hpp"
#include "session_test_support.hpp"

namespace herald::bgp {
namespace {

using namespace testing;
using namespace std::chrono_literals;

Prefix pfx(const char* s) { return *Prefix::parse(s); }

std::vector<Update> updates(const std::vector<Message>& ms) {
  std::vector<Update> out;
  for (const auto& m : ms) {
    if (const auto* u = std::get_if<Update>(&m)) out.push_back(*u);
  }
  return out;
}

std::vector<Notification> peer_notifications(const Actions& a, ConnId conn) {
  std::vector<Notification> out;
  for (const auto& m : sent_messages(a, conn)) {
    if (const auto* n = std::get_if<Notification>(&m)) out.push_back(*n);
  }
  return out;
}

// The prefixes an UPDATE announces (classic NLRI or MP_REACH).
std::vector<Prefix> announced(const Update& u) {
  std::vector<Prefix> out = u.nlri;
  if (u.attrs.mp_reach) {
    out.insert(out.end(), u.attrs.mp_reach->nlri.begin(), u.attrs.mp_reach->nlri.end());
  }
  return out;
}
std::vector<Prefix> withdrawn(const Update& u) {
  std::vector<Prefix> out = u.withdrawn;
  if (u.attrs.mp_unreach) {
    out.insert(out.end(), u.attrs.mp_unreach->withdrawn.begin(),
               u.attrs.mp_unreach->withdrawn.end());
  }
  return out;
}

Route route(const char* p, RouteAttributes a = {}) { return Route{pfx(p), std::move(a)}; }

PeerConfig peer_config() {
  auto c = base_config();
  c.next_hop_v6 = *IpAddress::parse("2001:db8::1");  // the session runs over IPv4
  return c;
}

struct Driver {
  explicit Driver(PeerConfig c = peer_config()) : peer(std::move(c), 11) {}
  Peer peer;
  Clock::time_point now = t0();
  ConnId conn = 0;

  Actions feed(const Message& m) { return feed_bytes(encode(m, CodecOptions{})); }
  Actions feed_bytes(const Bytes& b) { return peer.on_bytes(conn, b, now); }
  // Returns the actions of the final KEEPALIVE (SessionUp, initial UPDATEs, End-of-RIB).
  Actions establish(Open o = peer_open()) {
    auto a = peer.start(now);
    conn = first_of<Connect>(a)->conn;
    peer.on_connected(conn, now, kLocal, kRemote, false);
    feed(o);
    auto up = feed(Keepalive{});
    REQUIRE(peer.state() == State::Established);
    return up;
  }
};

TEST_CASE("peer: handshake sends OPEN then KEEPALIVE and counts messages") {
  Driver d;
  auto a = d.peer.start(d.now);
  d.conn = first_of<Connect>(a)->conn;
  auto b = d.peer.on_connected(d.conn, d.now, kLocal, kRemote, false);
  auto ms = sent_messages(b, d.conn);
  REQUIRE(ms.size() == 1);
  CHECK(std::get<Open>(ms[0]) == Fsm(d.peer.config(), 1).local_open());
  auto c = d.feed(peer_open());
  ms = sent_messages(c, d.conn);
  REQUIRE(ms.size() == 1);
  CHECK(std::holds_alternative<Keepalive>(ms[0]));
  auto e = d.feed(Keepalive{});
  CHECK(first_of<SessionUp>(e));
  auto st = d.peer.status(d.now + 5s);
  CHECK(st.state == State::Established);
  CHECK(st.uptime == Clock::duration(5s));
  CHECK(st.hold_time == 90);
  CHECK(st.keepalive == 30);
  CHECK(st.peer_as == 65001u);
  CHECK(st.sent[static_cast<std::size_t>(MessageType::Open)] == 1);
  CHECK(st.sent[static_cast<std::size_t>(MessageType::Keepalive)] == 1);
  CHECK(st.received_messages[static_cast<std::size_t>(MessageType::Open)] == 1);
  CHECK(st.received_messages[static_cast<std::size_t>(MessageType::Keepalive)] == 1);
  CHECK(st.next_hop_v4 == kLocal);
  CHECK(st.next_hop_v6 == IpAddress::parse("2001:db8::1"));
}

TEST_CASE("peer: the stream may arrive one byte at a time") {
  Driver d;
  auto a = d.peer.start(d.now);
  d.conn = first_of<Connect>(a)->conn;
  d.peer.on_connected(d.conn, d.now, kLocal, kRemote, false);
  Bytes all = encode(peer_open(), CodecOptions{});
  const Bytes ka = encode(Keepalive{}, CodecOptions{});
  all.insert(all.end(), ka.begin(), ka.end());
  for (auto b : all) d.peer.on_bytes(d.conn, std::span<const std::uint8_t>(&b, 1), d.now);
  CHECK(d.peer.state() == State::Established);
}

TEST_CASE("peer: a route's extended communities (RFC 4360) go out as EXTENDED_COMMUNITIES, changes as a new path") {
  Driver d;
  RouteAttributes attrs;
  attrs.extended_communities = {ext_community_as2(ExtCommunityKind::RouteTarget, 65000, 100)};
  d.peer.set_routes({route("192.0.2.53/32", attrs)}, d.now);
  auto up = d.establish();
  auto ups = updates(sent_messages(up, d.conn));
  REQUIRE(ups.size() >= 1);
  CHECK(ups[0].attrs.extended_communities ==
        std::vector<ExtendedCommunity>{{0x00, 0x02, 0xFD, 0xE8, 0x00, 0x00, 0x00, 0x64}});
  // Another extended community on the same prefix: announced again (RFC 4271 3.1), no withdrawal.
  attrs.extended_communities.push_back(ext_community_ipv4(ExtCommunityKind::RouteOrigin, 0xC0000201, 7));
  auto again = updates(sent_messages(d.peer.set_routes({route("192.0.2.53/32", attrs)}, d.now), d.conn));
  REQUIRE(again.size() == 1);
  CHECK(again[0].withdrawn.empty());
  CHECK(again[0].nlri == std::vector<Prefix>{pfx("192.0.2.53/32")});
  CHECK(again[0].attrs.extended_communities.size() == 2);
}

TEST_CASE("peer: Established sends the desired set, then End-of-RIB per family") {
  Driver d;
  RouteAttributes attrs;
  attrs.med = 10;
  attrs.communities = {0xFDE80064};  // 65000:100
  attrs.as_path_prepend = {65000};
  d.peer.set_routes({route("192.0.2.53/32", attrs), route("198.51.100.0/24", attrs),
                     route("2001:db8:53::1/128")},
                    d.now);
  auto a = d.establish();
  auto ups = updates(sent_messages(a, d.conn));
  REQUIRE(ups.size() == 4);
  // One UPDATE for both IPv4 prefixes (same attributes).
  CHECK(ups[0].nlri == std::vector<Prefix>{pfx("192.0.2.53/32"), pfx("198.51.100.0/24")});
  CHECK(ups[0].attrs.next_hop == kLocal);
  CHECK(ups[0].attrs.origin == Origin::Igp);
  REQUIRE(ups[0].attrs.as_path);
  REQUIRE(ups[0].attrs.as_path->size() == 1);
  // eBGP: the local AS first, then the prepend (RFC 4271 5.1.2).
  CHECK((*ups[0].attrs.as_path)[0].asns == std::vector<std::uint32_t>{65000, 65000});
  CHECK(ups[0].attrs.med == 10u);
  CHECK_FALSE(ups[0].attrs.local_pref);  // never on eBGP
  CHECK(ups[0].attrs.communities == std::vector<Community>{0xFDE80064});
  // IPv6 via MP_REACH_NLRI with the configured next hop.
  REQUIRE(ups[1].attrs.mp_reach);
  CHECK(ups[1].attrs.mp_reach->family == kIpv6Unicast);
  CHECK(ups[1].attrs.mp_reach->next_hop == IpAddress::parse("2001:db8::1"));
  CHECK(ups[1].attrs.mp_reach->nlri == std::vector<Prefix>{pfx("2001:db8:53::1/128")});
  CHECK(ups[2].end_of_rib() == kIpv4Unicast);
  CHECK(ups[3].end_of_rib() == kIpv6Unicast);
  auto st = d.peer.status(d.now);
  CHECK(st.announced[kIpv4Unicast] == 2);
  CHECK(st.announced[kIpv6Unicast] == 1);
}

// RFC 9234 5 egress rule 1, as it goes on the wire: OTC = our AS towards a customer.
TEST_CASE("peer: as a provider, our routes carry OTC = our AS, byte for byte") {
  auto cfg = peer_config();
  cfg.role = Role::Provider;
  Driver d(cfg);
  d.peer.set_routes({route("192.0.2.53/32")}, d.now);
  auto o = peer_open();
  o.caps.multiprotocol = {kIpv4Unicast};
  o.caps.role = Role::Customer;
  auto up = d.establish(o);
  const Bytes expected = {
      0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // marker
      0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // marker
      0x00, 0x37,                                      // length 55
      0x02,                                            // type UPDATE
      0x00, 0x00,                                      // withdrawn routes length 0
      0x00, 0x1B,                                      // path attributes length 27
      0x40, 0x01, 0x01, 0x00,                          // ORIGIN IGP
      0x40, 0x02, 0x06, 0x02, 0x01,                    // AS_PATH, one AS_SEQUENCE of 1
      0x00, 0x00, 0xFD, 0xE8,                          //   AS 65000 (ours)
      0x40, 0x03, 0x04, 0xC0, 0x00, 0x02, 0x01,        // NEXT_HOP 192.0.2.1
      0xC0, 0x23, 0x04,                                // optional transitive, OTC (35), length 4
      0x00, 0x00, 0xFD, 0xE8,                          //   AS 65000 (ours)
      0x20, 0xC0, 0x00, 0x02, 0x35,                    // NLRI 192.0.2.53/32
  };
  const auto sends = all_of<Send>(up);
  REQUIRE(sends.size() >= 1);
  CHECK(sends[0].bytes == expected);
  // heraldctl routes shows the same OTC.
  const auto sent = d.peer.adj_rib_out_as_sent();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].attributes.otc == 65000u);
}

TEST_CASE("peer: OTC goes to customers, peers and RS clients, not to providers or route servers") {
  struct Case {
    std::optional<Role> local;
    std::optional<Role> remote;
    std::optional<std::uint32_t> otc;
  };
  for (const auto& c : {Case{Role::Provider, Role::Customer, 65000u}, Case{Role::Peer, Role::Peer, 65000u},
                        Case{Role::RouteServer, Role::RsClient, 65000u}, Case{Role::Customer, Role::Provider, {}},
                        Case{Role::RsClient, Role::RouteServer, {}}, Case{{}, {}, {}}}) {
    CAPTURE(c.local ? to_string(*c.local) : "no role");
    auto cfg = peer_config();
    cfg.role = c.local;
    Driver d(cfg);
    d.peer.set_routes({route("192.0.2.53/32"), route("2001:db8:53::1/128")}, d.now);
    auto o = peer_open();
    o.caps.role = c.remote;
    auto up = d.establish(o);
    auto ups = updates(sent_messages(up, d.conn));
    REQUIRE(ups.size() == 4);
    CHECK(ups[0].attrs.otc == c.otc);  // IPv4
    CHECK(ups[1].attrs.otc == c.otc);  // IPv6 (MP_REACH_NLRI)
    CHECK_FALSE(ups[2].attrs.otc);     // End-of-RIB carries no attributes
  }
}

TEST_CASE("peer: set_routes sends only the changes") {
  Driver d;
  d.peer.set_routes({route("192.0.2.53/32"), route("198.51.100.0/24")}, d.now);
  d.establish();

  SUBCASE("unchanged set sends nothing") {
    auto a = d.peer.set_routes({route("198.51.100.0/24"), route("192.0.2.53/32")}, d.now);
    CHECK(all_of<Send>(a).empty());
  }
  SUBCASE("added prefix alone is announced") {
    auto a = d.peer.set_routes(
        {route("192.0.2.53/32"), route("198.51.100.0/24"), route("203.0.113.0/24")}, d.now);
    auto ups = updates(sent_messages(a, d.conn));
    REQUIRE(ups.size() == 1);
    CHECK(announced(ups[0]) == std::vector<Prefix>{pfx("203.0.113.0/24")});
    CHECK(withdrawn(ups[0]).empty());
  }
  SUBCASE("changed attributes re-announce that prefix only") {
    RouteAttributes drain;
    drain.communities = {kGracefulShutdown};
    auto a = d.peer.set_routes({route("192.0.2.53/32", drain), route("198.51.100.0/24")}, d.now);
    auto ups = updates(sent_messages(a, d.conn));
    REQUIRE(ups.size() == 1);
    CHECK(announced(ups[0]) == std::vector<Prefix>{pfx("192.0.2.53/32")});
    CHECK(ups[0].attrs.communities == std::vector<Community>{kGracefulShutdown});
  }
  SUBCASE("removed prefix is withdrawn") {
    auto a = d.peer.set_routes({route("198.51.100.0/24")}, d.now);
    auto ups = updates(sent_messages(a, d.conn));
    REQUIRE(ups.size() == 1);
    CHECK(withdrawn(ups[0]) == std::vector<Prefix>{pfx("192.0.2.53/32")});
    CHECK(announced(ups[0]).empty());
    CHECK(d.peer.status(d.now).announced[kIpv4Unicast] == 1);
  }
  SUBCASE("empty set withdraws everything") {
    auto a = d.peer.set_routes({}, d.now);
    auto ups = updates(sent_messages(a, d.conn));
    REQUIRE(ups.size() == 1);
    auto w = withdrawn(ups[0]);
    std::sort(w.begin(), w.end());
    CHECK(w == std::vector<Prefix>{pfx("192.0.2.53/32"), pfx("198.51.100.0/24")});
    CHECK(d.peer.status(d.now).announced[kIpv4Unicast] == 0);
    // And nothing more the second time.
    CHECK(all_of<Send>(d.peer.set_routes({}, d.now)).empty());
  }
}

TEST_CASE("peer: routes set before Established go out when it comes up, not before") {
  Driver d;
  auto a = d.peer.start(d.now);
  d.conn = first_of<Connect>(a)->conn;
  auto b = d.peer.set_routes({route("192.0.2.53/32")}, d.now);
  CHECK(all_of<Send>(b).empty());
}

TEST_CASE("peer: iBGP adds LOCAL_PREF and does not prepend the local AS") {
  auto cfg = peer_config();
  cfg.peer_as = 65000;
  Driver d(cfg);
  d.peer.set_routes({route("192.0.2.53/32")}, d.now);
  auto o = peer_open();
  o.my_as = 65000;
  o.caps.four_octet_as = 65000;
  auto up = d.establish(o);
  CodecOptions ibgp;
  ibgp.ibgp = true;  // else the decoder discards LOCAL_PREF (RFC 7606 7.5)
  auto ups = updates(sent_messages(up, d.conn, ibgp));
  REQUIRE(!ups.empty());
  CHECK(ups[0].attrs.local_pref == 100u);
  REQUIRE(ups[0].attrs.as_path);
  CHECK(ups[0].attrs.as_path->empty());
  // heraldctl routes shows the LOCAL_PREF that went out.
  const auto sent = d.peer.adj_rib_out_as_sent();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].attributes == ups[0].attrs);
}

TEST_CASE("peer: a family without a usable next hop is not announced") {
  auto cfg = base_config();  // no IPv6 next hop, IPv4 session
  Driver d(cfg);
  d.peer.set_routes({route("2001:db8:53::1/128"), route("192.0.2.53/32")}, d.now);
  auto a = d.establish();
  auto ups = updates(sent_messages(a, d.conn));
  REQUIRE(ups.size() == 3);  // IPv4 UPDATE, two End-of-RIB
  CHECK(announced(ups[0]) == std::vector<Prefix>{pfx("192.0.2.53/32")});
  bool warned = false;
  for (const auto& l : all_of<Log>(a)) {
    warned = warned || l.text.find("not announcing ipv6-unicast") != std::string::npos;
  }
  CHECK(warned);
  CHECK(d.peer.status(d.now).announced[kIpv6Unicast] == 0);
}

TEST_CASE("peer: only families negotiated by both sides are sent") {
  Driver d;
  d.peer.set_routes({route("2001:db8:53::1/128"), route("192.0.2.53/32")}, d.now);
  auto o = peer_open();
  o.caps.multiprotocol = {kIpv4Unicast};
  auto up = d.establish(o);
  auto ups = updates(sent_messages(up, d.conn));
  REQUIRE(ups.size() == 2);
  CHECK(announced(ups[0]) == std::vector<Prefix>{pfx("192.0.2.53/32")});
  CHECK(ups[1].end_of_rib() == kIpv4Unicast);
}

TEST_CASE("peer: ROUTE-REFRESH re-sends the Adj-RIB-Out") {
  SUBCASE("plain RFC 2918") {
    Driver d;
    d.peer.set_routes({route("192.0.2.53/32"), route("2001:db8:53::1/128")}, d.now);
    d.establish();
    auto a = d.feed(RouteRefresh{kIpv4Unicast, RouteRefreshSubtype::Normal});
    auto ms = sent_messages(a, d.conn);
    REQUIRE(ms.size() == 1);
    CHECK(announced(std::get<Update>(ms[0])) == std::vector<Prefix>{pfx("192.0.2.53/32")});
  }
  SUBCASE("enhanced (RFC 7313): wrapped in BoRR / EoRR") {
    Driver d;
    d.peer.set_routes({route("192.0.2.53/32")}, d.now);
    auto o = peer_open();
    o.caps.enhanced_route_refresh = true;
    d.establish(o);
    auto a = d.feed(RouteRefresh{kIpv4Unicast, RouteRefreshSubtype::Normal});
    auto ms = sent_messages(a, d.conn);
    REQUIRE(ms.size() == 3);
    CHECK(std::get<RouteRefresh>(ms[0]) ==
          RouteRefresh{kIpv4Unicast, RouteRefreshSubtype::BeginOfRibRefresh});
    CHECK(announced(std::get<Update>(ms[1])) == std::vector<Prefix>{pfx("192.0.2.53/32")});
    CHECK(std::get<RouteRefresh>(ms[2]) ==
          RouteRefresh{kIpv4Unicast, RouteRefreshSubtype::EndOfRibRefresh});
  }
  SUBCASE("not negotiated: ignored") {
    Driver d;
    d.peer.set_routes({route("192.0.2.53/32")}, d.now);
    auto o = peer_open();
    o.caps.route_refresh = false;
    d.establish(o);
    auto a = d.feed(RouteRefresh{kIpv4Unicast, RouteRefreshSubtype::Normal});
    CHECK(all_of<Send>(a).empty());
    CHECK(d.peer.state() == State::Established);
  }
}

// An IPv4 UPDATE from the neighbor announcing `nlri` (4-octet AS path 65001).
Update peer_update(std::vector<Prefix> nlri, std::vector<Prefix> wd = {}) {
  Update u;
  u.withdrawn = std::move(wd);
  if (!nlri.empty()) {
    u.attrs.origin = Origin::Igp;
    u.attrs.as_path = AsPath{AsSegment{AsSegmentType::AsSequence, {65001}}};
    u.attrs.next_hop = kRemote;
  }
  u.nlri = std::move(nlri);
  return u;
}

TEST_CASE("peer: received prefixes are counted, not double-counted, and withdrawn") {
  Driver d;
  d.establish();
  d.feed(peer_update({pfx("198.51.100.0/24"), pfx("203.0.113.0/24")}));
  CHECK(d.peer.status(d.now).received[kIpv4Unicast] == 2);
  d.feed(peer_update({pfx("198.51.100.0/24")}));  // implicit withdraw + re-announce
  CHECK(d.peer.status(d.now).received[kIpv4Unicast] == 2);
  d.feed(peer_update({}, {pfx("203.0.113.0/24"), pfx("192.0.2.0/24")}));
  CHECK(d.peer.status(d.now).received[kIpv4Unicast] == 1);
  CHECK(d.peer.status(d.now).received_messages[static_cast<std::size_t>(MessageType::Update)] ==
        3);
}

TEST_CASE("peer: treat-as-withdraw UPDATE withdraws its prefixes and keeps the session") {
  Driver d;
  d.establish();
  d.feed(peer_update({pfx("198.51.100.0/24"), pfx("203.0.113.0/24")}));
  const Bytes bad = {
      0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // marker
      0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // marker
      0x00, 0x37,                                      // length 55
      0x02,                                            // type UPDATE
      0x00, 0x00,                                      // withdrawn routes length 0
      0x00, 0x14,                                      // path attributes length 20
      0x40, 0x01, 0x01, 0x05,                          // ORIGIN = 5: undefined (RFC 7606 7.1)
      0x40, 0x02, 0x06, 0x02, 0x01,                    // AS_PATH, one AS_SEQUENCE of 1
      0x00, 0x00, 0xFD, 0xE9,                          //   AS 65001
      0x40, 0x03, 0x04, 0xC0, 0x00, 0x02, 0x02,        // NEXT_HOP 192.0.2.2
      0x18, 0xC6, 0x33, 0x64,                          // NLRI 198.51.100.0/24
      0x18, 0xCB, 0x00, 0x71,                          // NLRI 203.0.113.0/24
      0x18, 0xC0, 0x00, 0x02,                          // NLRI 192.0.2.0/24
  };
  auto a = d.feed_bytes(bad);
  CHECK(d.peer.state() == State::Established);
  CHECK(all_of<Send>(a).empty());  // no NOTIFICATION
  CHECK(d.peer.status(d.now).received[kIpv4Unicast] == 0);
  bool logged = false;
  for (const auto& l : all_of<Log>(a)) {
    logged = logged || l.text.find("treat-as-withdraw") != std::string::npos;
  }
  CHECK(logged);
}

TEST_CASE("peer: an UPDATE error that needs a session reset sends code 3 and goes Idle") {
  Driver d;
  d.establish();
  const Bytes bad = {
      0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // marker
      0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // marker
      0x00, 0x1B,                                      // length 27
      0x02,                                            // type UPDATE
      0x00, 0x00,                                      // withdrawn routes length 0
      0x00, 0x0A,                                      // path attributes length 10: too long
      0x40, 0x01, 0x01, 0x00,                          // ORIGIN IGP (only 4 octets follow)
  };
  auto a = d.feed_bytes(bad);
  auto n = peer_notifications(a, d.conn);
  REQUIRE(n.size() == 1);
  CHECK(n[0].code == 3);  // UPDATE Message Error (RFC 4271 6.3, RFC 7606 4)
  CHECK(first_of<SessionDown>(a));
  CHECK(d.peer.state() == State::Idle);
}

TEST_CASE("peer: max-prefix sends Cease 1 with AFI/SAFI and the limit, then backs off") {
  auto cfg = peer_config();
  cfg.max_prefix.ipv4 = 2;
  Driver d(cfg);
  d.establish();
  d.feed(peer_update({pfx("198.51.100.0/24"), pfx("203.0.113.0/24")}));
  CHECK(d.peer.state() == State::Established);  // at the limit is fine
  auto a = d.feed(peer_update({pfx("192.0.2.0/24")}));
  auto n = peer_notifications(a, d.conn);
  REQUIRE(n.size() == 1);
  CHECK(n[0].code == 6);
  CHECK(n[0].subcode == 1);
  CHECK(n[0].data == Bytes{0x00, 0x01,               // AFI 1
                           0x01,                     // SAFI 1
                           0x00, 0x00, 0x00, 0x02}); // limit 2
  CHECK(closes(a, d.conn));
  CHECK(d.peer.state() == State::Idle);
  CHECK(armed(a, TimerKind::IdleHold));
  auto st = d.peer.status(d.now);
  CHECK(st.notifications_sent[{6, 1}] == 1);
  CHECK(st.last_error.find("maximum prefixes") == 0);
  CHECK(st.received.empty());  // forgotten with the session
}

TEST_CASE("peer: total max-prefix counts all families") {
  auto cfg = peer_config();
  cfg.max_prefix.total = 1;
  Driver d(cfg);
  d.establish();
  d.feed(peer_update({pfx("198.51.100.0/24")}));
  Update v6;
  v6.attrs.origin = Origin::Igp;
  v6.attrs.as_path = AsPath{AsSegment{AsSegmentType::AsSequence, {65001}}};
  v6.attrs.mp_reach = MpReach{kIpv6Unicast, *IpAddress::parse("2001:db8::2"), std::nullopt,
                              {pfx("2001:db8:1::/48")}};
  auto a = d.feed(v6);
  auto n = peer_notifications(a, d.conn);
  REQUIRE(n.size() == 1);
  CHECK(n[0].data == Bytes{0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x01});  // AFI 2, SAFI 1, 1
}

TEST_CASE("peer: a malformed header is answered with the codec's NOTIFICATION") {
  Driver d;
  d.establish();
  Bytes junk = encode(Keepalive{}, CodecOptions{});
  junk[3] = 0x00;  // marker must be all ones (RFC 4271 6.1)
  auto a = d.feed_bytes(junk);
  auto n = peer_notifications(a, d.conn);
  REQUIRE(n.size() == 1);
  CHECK(n[0].code == 1);
  CHECK(n[0].subcode == 1);
  CHECK(first_of<SessionDown>(a));
  CHECK(d.peer.state() == State::Idle);
  // Bytes after the close are ignored.
  CHECK(d.feed(Keepalive{}).empty());
}

TEST_CASE("peer: stop sends Cease 2 with the RFC 9003 text") {
  Driver d;
  d.establish();
  auto a = d.peer.stop(d.now, "DNS service unhealthy");
  auto n = peer_notifications(a, d.conn);
  REQUIRE(n.size() == 1);
  CHECK(n[0].shutdown_communication() == "DNS service unhealthy");
  CHECK(d.peer.state() == State::Idle);
  CHECK(d.peer.status(d.now).notifications_sent[{6, 2}] == 1);
  CHECK(d.peer.adj_rib_out().size(kIpv4Unicast) == 0);
}

TEST_CASE("peer: stop with PeerDeconfigured sends 6/3 without data") {
  Driver d;
  d.establish();
  auto a = d.peer.stop(d.now, "removed", CeaseSubcode::PeerDeconfigured);
  auto n = peer_notifications(a, d.conn);
  REQUIRE(n.size() == 1);
  CHECK(n[0] == Notification::make(ErrorCode::Cease, CeaseSubcode::PeerDeconfigured));
}

TEST_CASE("peer: a reset for BFD Down sends 6/10 and connects only after the idle hold") {
  Driver d;
  d.establish();
  auto a = d.peer.reset(d.now, "BFD down (Control Detection Time Expired)", CeaseSubcode::BfdDown);
  auto n = peer_notifications(a, d.conn);
  REQUIRE(n.size() == 1);
  CHECK(n[0] == Notification::make(ErrorCode::Cease, CeaseSubcode::BfdDown));  // 6/10 carries no text
  CHECK(d.peer.state() == State::Idle);
  // Not at once: the neighbor may still hold the old session and refuse a new connection.
  CHECK_FALSE(first_of<Connect>(a));
  auto idle = armed(a, TimerKind::IdleHold);
  REQUIRE(idle);
  CHECK(idle->after >= 750ms);  // idle-hold 1 s, jittered (RFC 4271 10), undoubled
  CHECK(idle->after <= 1000ms);
  d.now += idle->after;
  auto b = d.peer.on_timer(idle->timer, d.now);
  CHECK(first_of<Connect>(b));
  CHECK(d.peer.status(d.now).notifications_sent[{6, 10}] == 1);
}

TEST_CASE("peer: a received NOTIFICATION is logged and counted") {
  Driver d;
  d.establish();
  auto a = d.feed(Notification::shutdown("maintenance"));
  bool logged = false;
  for (const auto& l : all_of<Log>(a)) {
    logged = logged || (l.text.find("received NOTIFICATION") == 0 &&
                        l.text.find("maintenance") != std::string::npos);
  }
  CHECK(logged);
  CHECK(d.peer.status(d.now).notifications_received[{6, 2}] == 1);
  CHECK(d.peer.state() == State::Idle);
}

TEST_CASE("peer: the session comes back after IdleHold and re-sends the routes") {
  Driver d;
  d.peer.set_routes({route("192.0.2.53/32")}, d.now);
  d.establish();
  auto a = d.peer.on_closed(d.conn, d.now, "reset by peer");
  auto idle = armed(a, TimerKind::IdleHold);
  REQUIRE(idle);
  d.now += idle->after;
  auto b = d.peer.on_timer(idle->timer, d.now);
  d.conn = first_of<Connect>(b)->conn;
  d.peer.on_connected(d.conn, d.now, kLocal, kRemote, false);
  d.feed(peer_open());
  auto up = d.feed(Keepalive{});
  auto ups = updates(sent_messages(up, d.conn));
  REQUIRE(ups.size() == 3);
  CHECK(announced(ups[0]) == std::vector<Prefix>{pfx("192.0.2.53/32")});
}

TEST_CASE("peer: collision over two connections keeps one and sends routes on it") {
  Driver d;
  d.peer.set_routes({route("192.0.2.53/32")}, d.now);
  auto a = d.peer.start(d.now);
  const ConnId out = first_of<Connect>(a)->conn;
  d.peer.on_connected(out, d.now, kLocal, kRemote, false);
  d.peer.on_bytes(out, encode(peer_open(), CodecOptions{}), d.now);  // out: OpenConfirm
  const ConnId in = d.peer.allocate_conn_id();
  auto b = d.peer.on_connected(in, d.now, kLocal, kRemote, true);
  REQUIRE(sent_messages(b, in).size() == 1);  // our OPEN on the inbound connection
  // The neighbor (higher id) keeps its own connection: ours gets Cease 7.
  auto c = d.peer.on_bytes(in, encode(peer_open(), CodecOptions{}), d.now);
  auto n = peer_notifications(c, out);
  REQUIRE(n.size() == 1);
  CHECK(n[0].subcode == 7);
  CHECK(closes(c, out));
  // Late bytes on the closed connection are ignored.
  CHECK(d.peer.on_bytes(out, encode(Keepalive{}, CodecOptions{}), d.now).empty());
  auto e = d.peer.on_bytes(in, encode(Keepalive{}, CodecOptions{}), d.now);
  CHECK(first_of<SessionUp>(e)->conn == in);
  auto ups = updates(sent_messages(e, in));
  REQUIRE(ups.size() == 3);
  CHECK(announced(ups[0]) == std::vector<Prefix>{pfx("192.0.2.53/32")});
  CHECK(d.peer.status(d.now).notifications_sent[{6, 7}] == 1);
}

TEST_CASE("peer: the StateChange to Established comes before SessionUp and the UPDATEs") {
  Driver d;
  d.peer.set_routes({route("192.0.2.53/32")}, d.now);
  auto a = d.establish();
  std::size_t state_at = 0, up_at = 0, first_send = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::holds_alternative<StateChange>(a[i])) state_at = i + 1;
    if (std::holds_alternative<SessionUp>(a[i])) up_at = i + 1;
    if (std::holds_alternative<Send>(a[i]) && first_send == 0) first_send = i + 1;
  }
  CHECK(state_at != 0);
  CHECK(state_at < up_at);
  CHECK(up_at < first_send);
}

TEST_CASE("peer: send hold through on_sent") {
  auto cfg = peer_config();
  cfg.send_hold = 60s;
  Driver d(cfg);
  d.peer.set_routes({route("192.0.2.53/32")}, d.now);
  auto a = d.establish();
  // The transport reports everything written: no timer left to fire.
  auto b = d.peer.on_sent(d.conn, d.now, true);
  CHECK(cancelled(b, TimerKind::SendHold));
  // New UPDATEs queue data again and arm it.
  auto c = d.peer.set_routes({route("198.51.100.0/24")}, d.now);
  auto t = armed(c, TimerKind::SendHold);
  REQUIRE(t);
  d.now += t->after;
  auto e = d.peer.on_timer(t->timer, d.now);
  auto n = peer_notifications(e, d.conn);
  REQUIRE(n.size() == 1);
  CHECK(n[0].code == kSendHoldTimerExpiredCode);
  CHECK(d.peer.state() == State::Idle);
}

TEST_CASE("peer: config check refuses hold 1 or 2 and other impossible settings") {
  auto c = base_config();
  CHECK_FALSE(c.check());
  c.hold_time = 0;  // allowed: no keepalives
  CHECK_FALSE(c.check());
  for (std::uint16_t h : {1, 2}) {
    c.hold_time = h;
    CHECK(c.check());
  }
  c = base_config();
  c.keepalive = 31;  // more than 90 / 3
  CHECK(c.check());
  c = base_config();
  c.router_id = 0;
  CHECK(c.check());
  c = base_config();
  c.require_families = {kIpv6Unicast};
  c.families = {kIpv4Unicast};
  CHECK(c.check());
  c = base_config();
  c.next_hop_v6_link_local = IpAddress::parse("2001:db8::1");  // not fe80::/10
  CHECK(c.check());
}

// An UPDATE larger than 4096 octets: 1100 /32s in one message.
Bytes big_update() {
  std::vector<Prefix> ps;
  for (std::uint32_t i = 0; i < 1100; ++i) {
    Prefix p;
    p.addr = IpAddress::v4(0xC6120000u + i);  // 198.18.0.0/15
    p.length = 32;
    ps.push_back(p);
  }
  PathAttributes a;
  a.origin = Origin::Igp;
  a.as_path = AsPath{AsSegment{AsSegmentType::AsSequence, {65001}}};
  CodecOptions ext;
  ext.extended_message = true;
  auto msgs = encode_announcements(kIpv4Unicast, a, kRemote, std::nullopt, ps, ext);
  REQUIRE(msgs.size() == 1);
  REQUIRE(msgs[0].size() > kMaxMessageSize);
  return msgs[0];
}

TEST_CASE("peer: messages above 4096 octets only after RFC 8654 negotiation") {
  SUBCASE("negotiated") {
    Driver d;
    auto o = peer_open();
    o.caps.extended_message = true;
    d.establish(o);
    d.feed_bytes(big_update());
    CHECK(d.peer.state() == State::Established);
    CHECK(d.peer.status(d.now).received[kIpv4Unicast] == 1100);
  }
  SUBCASE("not negotiated: 1/2 Bad Message Length") {
    Driver d;
    d.establish();
    auto a = d.feed_bytes(big_update());
    auto n = peer_notifications(a, d.conn);
    REQUIRE(n.size() == 1);
    CHECK(n[0].code == 1);
    CHECK(n[0].subcode == 2);
    CHECK(d.peer.state() == State::Idle);
  }
}

TEST_CASE("peer: large sets are packed into several UPDATEs of at most 4096 octets") {
  Driver d;
  std::vector<Route> many;
  for (int i = 0; i < 2000; ++i) {
    Prefix p;
    p.addr = IpAddress::v4(0xC6120000u + static_cast<std::uint32_t>(i) * 4);  // 198.18.0.0/15
    p.length = 30;
    many.push_back(Route{p, {}});
  }
  d.peer.set_routes(many, d.now);
  auto a = d.establish();
  std::size_t total = 0;
  std::size_t count = 0;
  for (const auto& s : all_of<Send>(a)) CHECK(s.bytes.size() <= kMaxMessageSize);
  for (const auto& u : updates(sent_messages(a, d.conn))) {
    total += announced(u).size();
    ++count;
  }
  CHECK(total == 2000);
  CHECK(count < 10);  // 2000 x 5 octets fit in 3 UPDATEs, plus 2 End-of-RIB
}

// Peer::reconfigure: a reload that changes only what needs no new session is applied to the
// running one.

std::vector<Route> two_routes() { return {route("192.0.2.53/32"), route("2001:db8:53::1/128")}; }

TEST_CASE("same_session: which peer fields a running session can take") {
  const PeerConfig a = peer_config();
  PeerConfig b = a;
  b.description = "transit A";
  b.mode = ConnectMode::Passive;
  b.connect_retry = 5s;
  b.connect_retry_max = 60s;
  b.idle_hold = 2s;
  b.idle_hold_max = 600s;
  b.stable_time = 30s;
  b.max_prefix.total = 10;
  b.next_hop_v4 = *IpAddress::parse("192.0.2.9");
  b.next_hop_v6 = *IpAddress::parse("2001:db8::9");
  b.next_hop_v6_link_local = *IpAddress::parse("fe80::9");
  CHECK(same_session(a, b));
  auto differs = [&](auto change) {
    PeerConfig x = a;
    change(x);
    return !same_session(a, x);
  };
  CHECK(differs([](PeerConfig& x) { x.name = "other"; }));
  CHECK(differs([](PeerConfig& x) { x.peer_address = *IpAddress::parse("192.0.2.7"); }));
  CHECK(differs([](PeerConfig& x) { x.port = 1179; }));
  CHECK(differs([](PeerConfig& x) { x.peer_as = 65099; }));
  CHECK(differs([](PeerConfig& x) { x.local_as = 65098; }));
  CHECK(differs([](PeerConfig& x) { x.router_id = 0x0A000002; }));
  CHECK(differs([](PeerConfig& x) { x.local_address = kLocal; }));
  CHECK(differs([](PeerConfig& x) { x.hold_time = 30; }));
  CHECK(differs([](PeerConfig& x) { x.keepalive = 5; }));
  CHECK(differs([](PeerConfig& x) { x.send_hold = 60s; }));
  CHECK(differs([](PeerConfig& x) { x.families = {kIpv4Unicast}; }));
  CHECK(differs([](PeerConfig& x) { x.require_families = {kIpv4Unicast}; }));
  CHECK(differs([](PeerConfig& x) { x.role = Role::Customer; }));
  CHECK(differs([](PeerConfig& x) { x.strict_role = true; }));
  CHECK(differs([](PeerConfig& x) { x.extended_message = false; }));
  CHECK(differs([](PeerConfig& x) { x.route_refresh = false; }));
}

TEST_CASE("peer reconfigure: a new IPv4 next hop re-announces the IPv4 routes only, session kept") {
  Driver s;
  s.peer.set_routes(two_routes(), s.now);
  s.establish();
  auto c = peer_config();
  c.next_hop_v4 = *IpAddress::parse("192.0.2.9");
  c.description = "transit A";
  auto a = s.peer.reconfigure(c, s.now);
  CHECK(s.peer.state() == State::Established);
  const auto ms = sent_messages(a, s.conn);
  REQUIRE(ms.size() == 1);
  const auto& u = std::get<Update>(ms[0]);
  CHECK(u.nlri == std::vector<Prefix>{pfx("192.0.2.53/32")});
  CHECK(u.withdrawn.empty());
  REQUIRE(u.attrs.next_hop);
  CHECK(*u.attrs.next_hop == *IpAddress::parse("192.0.2.9"));
  CHECK_FALSE(u.attrs.mp_reach);
  CHECK(s.peer.status(s.now).next_hop_v4 == IpAddress::parse("192.0.2.9"));
  CHECK(s.peer.config().description == "transit A");
  // The same configuration again: nothing to send.
  CHECK(all_of<Send>(s.peer.reconfigure(c, s.now)).empty());
}

TEST_CASE("peer reconfigure: an IPv6 family left without a next hop is withdrawn") {
  Driver s;
  s.peer.set_routes(two_routes(), s.now);
  s.establish();
  auto c = peer_config();
  c.next_hop_v6.reset();  // an IPv4 session has no IPv6 address of its own to fall back on
  auto a = s.peer.reconfigure(c, s.now);
  CHECK(s.peer.state() == State::Established);
  const auto ms = sent_messages(a, s.conn);
  REQUIRE(ms.size() == 1);
  const auto& u = std::get<Update>(ms[0]);
  REQUIRE(u.attrs.mp_unreach);
  CHECK(u.attrs.mp_unreach->withdrawn == std::vector<Prefix>{pfx("2001:db8:53::1/128")});
  CHECK(s.peer.adj_rib_out().size(kIpv6Unicast) == 0);
}

TEST_CASE("peer reconfigure: a max-prefix below what the neighbor sends ends the session with Cease 1") {
  Driver s;
  s.peer.set_routes(two_routes(), s.now);
  s.establish();
  Update u;
  u.attrs.origin = Origin::Igp;
  u.attrs.as_path = AsPath{AsSegment{AsSegmentType::AsSequence, {65001}}};
  u.attrs.next_hop = kRemote;
  u.nlri = {pfx("198.51.100.0/24"), pfx("203.0.113.0/24")};
  s.feed(u);
  auto c = peer_config();
  c.max_prefix.total = 2;  // at the limit: fine
  CHECK(all_of<Send>(s.peer.reconfigure(c, s.now)).empty());
  CHECK(s.peer.state() == State::Established);
  c.max_prefix.total = 1;
  auto a = s.peer.reconfigure(c, s.now);
  const auto ms = sent_messages(a, s.conn);
  REQUIRE(ms.size() == 1);
  const auto& n = std::get<Notification>(ms[0]);
  CHECK(n.code == 6);
  CHECK(n.subcode == 1);
  CHECK(n.data == Bytes{0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x01});  // AFI 1, SAFI 1, limit 1
  CHECK(s.peer.state() == State::Idle);
}

TEST_CASE("peer reconfigure: new retry bounds apply to the next attempt") {
  auto c0 = peer_config();
  c0.connect_retry = 2s;
  c0.connect_retry_max = 2s;
  Driver s(c0);
  auto a = s.peer.start(s.now);
  const ConnId conn = first_of<Connect>(a)->conn;
  auto c = c0;
  c.connect_retry = 10s;
  c.connect_retry_max = 10s;
  s.peer.reconfigure(c, s.now);
  auto f = s.peer.on_connect_failed(conn, s.now, "connection refused");
  auto retry = armed(f, TimerKind::ConnectRetry);
  REQUIRE(retry);
  CHECK(retry->after >= 7500ms);  // 10 s jittered to 75-100 %
  CHECK(retry->after <= 10s);
}

// heraldctl routes shows adj_rib_out_as_sent(): it must be what the UPDATEs on the wire said.
TEST_CASE("peer: the Adj-RIB-Out as sent equals the attributes of the UPDATEs that went out") {
  Driver d;
  RouteAttributes steered;
  steered.as_path_prepend = {65000, 65000};
  steered.med = 100;
  steered.communities = {0xFFFF0000};  // 65535:0, graceful shutdown
  steered.large_communities = {LargeCommunity{65000, 1, 2}};
  d.peer.set_routes({route("192.0.2.53/32", steered), route("198.51.100.0/24"), route("2001:db8:53::1/128")},
                    d.now);
  CHECK(d.peer.adj_rib_out_as_sent().empty());  // nothing is sent before Established
  const auto up = d.establish();
  auto ups = updates(sent_messages(up, d.conn));
  auto sent = d.peer.adj_rib_out_as_sent();
  REQUIRE(sent.size() == 3);  // two IPv4 attribute sets, one IPv6
  // Every group's attributes are exactly those of an UPDATE that carried its prefixes.
  for (const auto& g : sent) {
    bool matched = false;
    for (const auto& u : ups) {
      auto wire = u.attrs;
      if (wire.mp_reach) wire.mp_reach->nlri.clear();
      if (announced(u) == g.prefixes && wire == g.attributes) matched = true;
    }
    CHECK_MESSAGE(matched, g.prefixes.front().to_string());
  }
  const auto* four = &sent[0];
  for (const auto& g : sent)
    if (g.prefixes.front() == pfx("192.0.2.53/32")) four = &g;
  REQUIRE(four->attributes.as_path);
  CHECK((*four->attributes.as_path)[0].asns == std::vector<std::uint32_t>{65000, 65000, 65000});
  CHECK(four->attributes.next_hop == kLocal);
  CHECK(four->attributes.med == 100u);
  CHECK(four->attributes.communities == std::vector<Community>{0xFFFF0000});
  CHECK(four->attributes.large_communities == std::vector<LargeCommunity>{{65000, 1, 2}});
  for (const auto& g : sent) {
    if (g.family != kIpv6Unicast) continue;
    REQUIRE(g.attributes.mp_reach);
    CHECK(g.attributes.mp_reach->next_hop == IpAddress::parse("2001:db8::1"));
    CHECK(g.attributes.mp_reach->nlri.empty());
  }
  // Withdrawn routes leave it; a session that ends takes it along.
  d.peer.set_routes({route("198.51.100.0/24")}, d.now);
  sent = d.peer.adj_rib_out_as_sent();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].prefixes == std::vector<Prefix>{pfx("198.51.100.0/24")});
  d.peer.stop(d.now, "test");
  CHECK(d.peer.adj_rib_out_as_sent().empty());
}

TEST_CASE("peer: as sent to a 2-octet-AS neighbor, the 4-octet path goes in AS4_PATH, as on the wire") {
  auto cfg = peer_config();
  cfg.local_as = 4200000001;
  Driver d(cfg);
  RouteAttributes a;
  a.as_path_prepend = {4200000001};
  d.peer.set_routes({route("192.0.2.53/32", a)}, d.now);
  auto o = peer_open();
  o.caps.four_octet_as.reset();  // an old speaker: AS numbers of 2 octets (RFC 6793 4.2.2)
  CodecOptions two_octet;
  two_octet.four_octet_as = false;
  const auto up = d.establish(o);
  auto ups = updates(sent_messages(up, d.conn, two_octet));
  auto sent = d.peer.adj_rib_out_as_sent();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].attributes == ups.at(0).attrs);
  REQUIRE(sent[0].attributes.as4_path);
  CHECK((*sent[0].attributes.as4_path)[0].asns == std::vector<std::uint32_t>{4200000001, 4200000001});
}

}  // namespace
}  // namespace herald::bgp

// Peer::reconfigure: a reload that changes only what needs no new session is applied to the
// running one. The neighbor's messages are produced with the codec and ours decoded with it.
#include <doctest/doctest.h>

#include "bgp/codec.hpp"
#include "bgp/peer.hpp"
#include "session_test_support.hpp"

namespace herald::bgp {
namespace {

using namespace testing;
using namespace std::chrono_literals;

const IpAddress kLocal = *IpAddress::parse("192.0.2.1");
const IpAddress kRemote = *IpAddress::parse("192.0.2.2");

Prefix pfx(const char* s) { return *Prefix::parse(s); }

PeerConfig config() {
  auto c = base_config();
  c.next_hop_v6 = *IpAddress::parse("2001:db8::1");  // the session runs over IPv4
  return c;
}

struct Session {
  explicit Session(PeerConfig c = config()) : peer(std::move(c), 5) {}
  Peer peer;
  Clock::time_point now = t0();
  ConnId conn = 0;
  Actions feed(const Message& m) { return peer.on_bytes(conn, encode(m, CodecOptions{}), now); }
  void establish() {
    peer.set_routes({Route{pfx("192.0.2.53/32"), {}}, Route{pfx("2001:db8:53::1/128"), {}}}, now);
    conn = first_of<Connect>(peer.start(now))->conn;
    peer.on_connected(conn, now, kLocal, kRemote, false);
    feed(peer_open());
    feed(Keepalive{});
    REQUIRE(peer.state() == State::Established);
  }
};

}  // namespace

TEST_CASE("same_session: which peer fields a running session can take") {
  const PeerConfig a = config();
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
  Session s;
  s.establish();
  auto c = config();
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
  Session s;
  s.establish();
  auto c = config();
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
  Session s;
  s.establish();
  Update u;
  u.attrs.origin = Origin::Igp;
  u.attrs.as_path = AsPath{AsSegment{AsSegmentType::AsSequence, {65001}}};
  u.attrs.next_hop = kRemote;
  u.nlri = {pfx("198.51.100.0/24"), pfx("203.0.113.0/24")};
  s.feed(u);
  auto c = config();
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
  auto c0 = config();
  c0.connect_retry = 2s;
  c0.connect_retry_max = 2s;
  Session s(c0);
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

}  // namespace herald::bgp

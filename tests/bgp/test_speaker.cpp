// Speaker tests on loopback: two herald speakers talk BGP to each other through the real
// transport (listener with MD5 keys, active connect from a bound address), so the translation of
// engine actions into sockets and timers is exercised end to end without root or routers.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "bgp/speaker.hpp"
#include "speaker_test_support.hpp"

using namespace herald::bgp;
using herald::bgp::testing::loopback_peer;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

IpAddress addr(const char* text) {
  auto a = IpAddress::parse(text);
  REQUIRE(a.has_value());
  return *a;
}

template <typename Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(10ms);
  }
  return done();
}

struct Events {
  std::vector<std::string> lines;
  std::vector<std::string> sessions;
  SpeakerObserver observer() {
    SpeakerObserver o;
    o.log = [this](herald::LogLevel, std::string_view peer, std::string_view text) {
      lines.push_back(std::string(peer) + ": " + std::string(text));
    };
    o.session = [this](std::string_view peer, bool up, std::string_view) {
      sessions.push_back(std::string(peer) + (up ? " up" : " down"));
    };
    return o;
  }
  bool logged(std::string_view needle) const {
    for (const auto& l : lines)
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }
};

std::size_t received_v4(const Speaker& s) {
  auto st = s.status();
  REQUIRE(st.size() == 1);
  auto it = st[0].bgp.received.find(kIpv4Unicast);
  return it == st[0].bgp.received.end() ? 0 : it->second;
}

}  // namespace

TEST_CASE("speaker: two speakers over loopback with MD5 exchange routes, refuse strangers, stop with Cease") {
  asio::io_context io;
  // B: passive, listens on 127.0.0.2 (ephemeral port), expects A from 127.0.0.1.
  Events eb;
  SpeakerSettings sb;
  sb.local_as = 65002;
  sb.router_id = 0x7f000002;
  sb.listen = {transport::Endpoint{addr("127.0.0.2"), 0}};
  sb.rng_seed = 2;
  auto pa = loopback_peer("a", addr("127.0.0.1"), 65001);
  pa.bgp.mode = ConnectMode::Passive;
  pa.md5 = "k3y";
  Speaker b(io, sb, {pa}, eb.observer());
  REQUIRE(b.start().empty());
  REQUIRE(b.listening().size() == 1);
  const std::uint16_t port = b.listening()[0].port;

  // A: active, from 127.0.0.1 to B's port, same key.
  Events ea;
  SpeakerSettings sa;
  sa.local_as = 65001;
  sa.router_id = 0x7f000001;
  sa.rng_seed = 1;
  auto pb = loopback_peer("b", addr("127.0.0.2"), 65002);
  pb.bgp.mode = ConnectMode::Active;
  pb.bgp.port = port;
  pb.bgp.local_address = addr("127.0.0.1");
  pb.md5 = "k3y";
  Speaker a(io, sa, {pb}, ea.observer());
  Route r1{*Prefix::parse("192.0.2.1/32"), {}};
  RouteAttributes med7;
  med7.med = 7;
  Route r2{*Prefix::parse("198.51.100.0/24"), med7};
  a.set_routes({r1, r2});
  REQUIRE(a.start().empty());

  REQUIRE(run_until(io, [&] { return received_v4(b) == 2; }));
  CHECK(a.status()[0].bgp.state == State::Established);
  CHECK(a.status()[0].md5);
  CHECK(ea.sessions == std::vector<std::string>{"b up"});
  CHECK(eb.sessions == std::vector<std::string>{"a up"});

  // Only the difference is sent: one UPDATE withdraws r1.
  const auto updates_before = a.status()[0].bgp.sent[static_cast<std::size_t>(MessageType::Update)];
  a.set_routes({r2});
  REQUIRE(run_until(io, [&] { return received_v4(b) == 1; }));
  CHECK(a.status()[0].bgp.sent[static_cast<std::size_t>(MessageType::Update)] == updates_before + 1);

  // A stranger is refused by B's listener and named in the log.
  auto stranger = transport::Connection::connect(
      io, transport::ConnectParams{addr("127.0.0.2"), port, addr("127.0.0.3"), {}}, {});
  REQUIRE(run_until(io, [&] { return eb.logged("refused connection from 127.0.0.3:"); }));
  CHECK(eb.logged("not a configured peer"));

  // stop(): Cease with the text reaches B (below), so stop() ended on the clean path, not on
  // its time limit (how long that takes depends on the machine's load: not asserted).
  bool stopped = false;
  a.stop("maintenance", [&] { stopped = true; });
  REQUIRE(run_until(io, [&] { return stopped; }));
  REQUIRE(run_until(io, [&] { return b.status()[0].bgp.state != State::Established; }));
  const auto b_status = b.status();
  const auto& got = b_status[0].bgp.notifications_received;
  auto it = got.find({6, 2});
  REQUIRE(it != got.end());
  CHECK(it->second == 1);
  CHECK(b.status()[0].bgp.last_error.find("maintenance") != std::string::npos);
}

TEST_CASE("speaker: a neighbor added disabled stays down until enabled; reset is 6/4 and reconnects, disable 6/2") {
  asio::io_context io;
  Events eb;
  SpeakerSettings sb;
  sb.local_as = 65002;
  sb.router_id = 0x7f000002;
  sb.listen = {transport::Endpoint{addr("127.0.0.2"), 0}};
  sb.rng_seed = 2;
  auto pa = loopback_peer("a", addr("127.0.0.1"), 65001);
  pa.bgp.mode = ConnectMode::Passive;
  Speaker b(io, sb, {pa}, eb.observer());
  REQUIRE(b.start().empty());

  Events ea;
  SpeakerSettings sa;
  sa.local_as = 65001;
  sa.router_id = 0x7f000001;
  sa.rng_seed = 1;
  auto pb = loopback_peer("b", addr("127.0.0.2"), 65002);
  pb.bgp.mode = ConnectMode::Active;
  pb.bgp.port = b.listening()[0].port;
  pb.bgp.local_address = addr("127.0.0.1");
  pb.disabled = true;  // as the daemon does for a peer the state file holds disabled
  Speaker a(io, sa, {pb}, ea.observer());
  a.set_routes({Route{*Prefix::parse("192.0.2.1/32"), {}}});
  REQUIRE(a.start().empty());
  CHECK(ea.logged("b: disabled by the operator: not starting the session"));
  CHECK(a.status()[0].disabled);
  CHECK(a.status()[0].bgp.state == State::Idle);
  CHECK(a.reset_peer("b", "x") == std::optional<std::string>("peer b is disabled: enable it instead"));
  CHECK(a.enable_peer("nosuch") == std::optional<std::string>("peer nosuch: not configured"));
  CHECK_FALSE(a.adj_rib_out_as_sent("nosuch").has_value());

  REQUIRE_FALSE(a.enable_peer("b").has_value());
  REQUIRE(run_until(io, [&] { return received_v4(b) == 1; }));
  CHECK_FALSE(a.status()[0].disabled);
  REQUIRE(a.adj_rib_out_as_sent("b")->size() == 1);

  auto received = [&](std::uint8_t sub) {
    const auto st = b.status();
    auto it = st[0].bgp.notifications_received.find({6, sub});
    return it == st[0].bgp.notifications_received.end() ? 0 : it->second;
  };
  REQUIRE_FALSE(a.reset_peer("b", "operator reset").has_value());
  REQUIRE(run_until(io, [&] { return received(4) == 1; }));
  REQUIRE(run_until(io, [&] { return received_v4(b) == 1 && a.status()[0].bgp.state == State::Established; }));

  REQUIRE_FALSE(a.disable_peer("b", "rack move").has_value());
  REQUIRE(run_until(io, [&] { return received(2) == 1; }));
  CHECK(b.status()[0].bgp.last_error.find("rack move") != std::string::npos);
  CHECK(a.status()[0].disabled);
  CHECK(a.status()[0].bgp.state == State::Idle);
  CHECK(a.adj_rib_out_as_sent("b")->empty());
}

TEST_CASE("speaker: a listener that cannot bind is reported, outbound sessions still run") {
  asio::io_context io;
  SpeakerSettings s;
  s.local_as = 65001;
  s.router_id = 1;
  s.listen = {transport::Endpoint{addr("192.0.2.123"), 179}};  // not an address of this host
  Events ev;
  Speaker sp(io, s, {loopback_peer("x", addr("127.0.0.9"), 65009)}, ev.observer());
  auto errors = sp.start();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "bind listener 192.0.2.123:179: Cannot assign requested address");
  CHECK(sp.listening().empty());
  // Nothing listens on 127.0.0.9:179: the engine hears about each failed attempt.
  REQUIRE(run_until(io, [&] { return ev.logged("state Connect -> Active"); }));
  bool stopped = false;
  sp.stop("done", [&] { stopped = true; });
  REQUIRE(run_until(io, [&] { return stopped; }));
}

TEST_CASE("speaker: add_peer refuses duplicates and invalid configurations") {
  asio::io_context io;
  SpeakerSettings s;
  s.local_as = 65001;
  s.router_id = 1;
  Speaker sp(io, s, {loopback_peer("x", addr("127.0.0.9"), 65009)});
  CHECK(sp.add_peer(loopback_peer("x", addr("127.0.0.10"), 65009)) == "peer x: name already configured");
  CHECK(sp.add_peer(loopback_peer("y", addr("127.0.0.9"), 65009)) == "peer y: address 127.0.0.9 already used by peer x");
  auto bad = loopback_peer("z", addr("127.0.0.11"), 65009);
  bad.bgp.hold_time = 2;  // RFC 4271 4.2: 1 and 2 are not allowed
  auto err = sp.add_peer(bad);
  REQUIRE(err.has_value());
  CHECK(err->rfind("peer z: ", 0) == 0);
  CHECK(sp.add_peer(loopback_peer("w", addr("127.0.0.12"), 65009)) == std::nullopt);
  CHECK(sp.status().size() == 2);
  sp.remove_peer("w", "test");
  CHECK(sp.status().size() == 1);
}

TEST_CASE("speaker: a flood of refused connections is logged once per source and period, and counted") {
  asio::io_context io;
  SpeakerSettings s;
  s.local_as = 65001;
  s.router_id = 1;
  s.listen = {transport::Endpoint{addr("127.0.0.2"), 0}};
  s.refused.period = 1s;
  Events ev;
  Speaker sp(io, s, {loopback_peer("x", addr("127.0.0.9"), 65009)}, ev.observer());
  REQUIRE(sp.start().empty());
  const std::uint16_t port = sp.listening()[0].port;
  constexpr int kConnections = 50;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<transport::Connection>> strangers;
  for (int i = 0; i < kConnections; ++i)
    strangers.push_back(transport::Connection::connect(
        io, transport::ConnectParams{addr("127.0.0.2"), port, addr("127.0.0.3"), {}}, {}));
  REQUIRE(run_until(io, [&] { return sp.refused_connections(RefusalReason::NotConfigured) == kConnections; }));
  // Every refusal shows up in the log, either as the line of a period's first connection or
  // inside a later "refused N more" summary; wait for the summaries of every period.
  auto accounted = [&] {
    int n = 0;
    for (const auto& l : ev.lines) {
      if (l.find("refused connection from 127.0.0.3:") != std::string::npos) ++n;
      const auto at = l.find("refused ");
      if (at != std::string::npos && l.find(" more connection", at) != std::string::npos)
        n += std::stoi(l.substr(at + 8));
    }
    return n;
  };
  REQUIRE(run_until(io, [&] { return accounted() == kConnections; }, 10000ms));
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  // At most one line per period for the first connection, and one summary per period.
  const auto periods = static_cast<std::size_t>(elapsed / 1s) + 1;
  const auto speaker_lines = std::count_if(ev.lines.begin(), ev.lines.end(), [](const std::string& l) {
    return l.starts_with(": refused ");  // speaker-wide lines have no peer name
  });
  CHECK(static_cast<std::size_t>(speaker_lines) <= 2 * periods);
  CHECK(ev.logged("further ones from 127.0.0.3 are counted for 1s"));
  CHECK(ev.logged("more connections from 127.0.0.3 in "));
  CHECK(sp.refused_connections(RefusalReason::ShuttingDown) == 0);
  bool stopped = false;
  sp.stop("done", [&] { stopped = true; });
  REQUIRE(run_until(io, [&] { return stopped; }));
}

TEST_CASE("speaker: sessions_carrying counts the Established sessions that negotiated the family") {
  auto status = [](State state, std::vector<Family> families, bool v6_next_hop = true) {
    SpeakerPeerStatus p;
    p.bgp.state = state;
    p.bgp.families = std::move(families);
    p.bgp.next_hop_v4 = addr("192.0.2.1");
    if (v6_next_hop) p.bgp.next_hop_v6 = addr("2001:db8::1");
    return p;
  };
  const std::vector<SpeakerPeerStatus> peers{status(State::Established, {kIpv4Unicast, kIpv6Unicast}),
                                             status(State::Established, {kIpv4Unicast}),
                                             status(State::OpenConfirm, {kIpv4Unicast, kIpv6Unicast}),
                                             status(State::Established, {kIpv6Unicast}),
                                             status(State::Established, {kIpv4Unicast, kIpv6Unicast}, false)};
  CHECK(sessions_carrying(peers, kIpv4Unicast) == 3);
  CHECK(sessions_carrying(peers, kIpv6Unicast) == 2);  // the last has IPv6 but no next hop for it
  CHECK(sessions_carrying({peers[1]}, kIpv6Unicast) == 0);  // up, but without IPv6
  CHECK(sessions_carrying({peers[4]}, kIpv6Unicast) == 0);
  CHECK(sessions_carrying({}, kIpv4Unicast) == 0);
}

TEST_CASE("speaker: set_peer_routes gives each neighbor its own set; one absent from it holds nothing") {
  asio::io_context io;
  SpeakerSettings s;
  s.local_as = 65001;
  s.router_id = 0x7f000001;
  s.rng_seed = 1;
  Speaker sp(io, s, {loopback_peer("a", addr("127.0.0.2"), 65002), loopback_peer("b", addr("127.0.0.3"), 65002)});
  const Route r1{*Prefix::parse("192.0.2.1/32"), {}};
  const Route r2{*Prefix::parse("198.51.100.0/24"), {}};
  sp.set_routes({r1, r2});
  CHECK(sp.routes_of("a").size() == 2);
  CHECK(sp.routes_of("b").size() == 2);
  PeerRoutes mine;
  mine["a"] = std::make_shared<const std::vector<Route>>(std::vector<Route>{r1});
  sp.set_peer_routes(mine);
  CHECK(sp.routes_of("a") == std::vector<Route>{r1});
  CHECK(sp.routes_of("b").empty());
  CHECK(sp.routes().empty());
  sp.set_routes({r2});  // back to one set for every neighbor
  CHECK(sp.routes_of("a") == std::vector<Route>{r2});
  CHECK(sp.routes_of("b") == std::vector<Route>{r2});
}

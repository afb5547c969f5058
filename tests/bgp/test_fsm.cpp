// RFC 4271 section 8 transitions of the session FSM, driven with a hand-advanced clock.
#include <doctest/doctest.h>

#include <functional>

#include "bgp/fsm.hpp"
#include "session_test_support.hpp"

namespace herald::bgp {
namespace {

using namespace testing;
using namespace std::chrono_literals;

// One Fsm plus the clock, with shortcuts to walk it into each state.
struct Driver {
  explicit Driver(PeerConfig c = base_config(), std::uint64_t seed = 7)
      : cfg(std::move(c)), fsm(cfg, seed) {}
  PeerConfig cfg;
  Fsm fsm;
  Clock::time_point now = t0();
  ConnId conn = 0;  // the outbound connection of the last start

  FsmActions start() {
    auto a = fsm.start(now);
    if (auto c = first_of<Connect>(a)) conn = c->conn;
    return a;
  }
  FsmActions to_open_sent() {
    start();
    return fsm.connected(conn, now, kLocal, kRemote, false);
  }
  FsmActions to_open_confirm(Open o = peer_open()) {
    to_open_sent();
    return fsm.message(conn, o, now);
  }
  FsmActions to_established(Open o = peer_open()) {
    to_open_confirm(std::move(o));
    return fsm.message(conn, Keepalive{}, now);
  }
  // Fires a timer `after` its arming, as the transport would.
  FsmActions fire(const ArmTimer& t) {
    now += t.after;
    return fsm.timer(t.timer, now);
  }
};

bool in_range(Clock::duration d, Clock::duration lo, Clock::duration hi) {
  return d >= lo && d <= hi;
}

TEST_CASE("fsm: Idle + ManualStart connects out and goes to Connect") {
  Driver d;
  auto a = d.start();
  auto c = first_of<Connect>(a);
  REQUIRE(c);
  CHECK(c->remote == kRemote);
  CHECK(c->port == 179);
  auto retry = armed(a, TimerKind::ConnectRetry);
  REQUIRE(retry);
  // 2 s base, jittered to 75..100% (RFC 4271 10).
  CHECK(in_range(retry->after, 1500ms, 2000ms));
  auto sc = first_of<StateChange>(a);
  REQUIRE(sc);
  CHECK(sc->from == State::Idle);
  CHECK(sc->to == State::Connect);
  CHECK(d.fsm.state() == State::Connect);
  CHECK(d.fsm.since() == d.now);
  // ManualStart outside Idle is ignored.
  CHECK(d.fsm.start(d.now).empty());
}

TEST_CASE("fsm: passive mode start waits in Active without connecting") {
  auto cfg = base_config();
  cfg.mode = ConnectMode::Passive;
  Driver d(cfg);
  auto a = d.start();
  CHECK_FALSE(first_of<Connect>(a));
  CHECK_FALSE(armed(a, TimerKind::ConnectRetry));
  CHECK(d.fsm.state() == State::Active);
  // An inbound connection is accepted and gets our OPEN.
  const ConnId in = d.fsm.allocate_conn_id();
  auto b = d.fsm.connected(in, d.now, kLocal, kRemote, true);
  auto s = first_of<SendMessage>(b);
  REQUIRE(s);
  CHECK(s->conn == in);
  CHECK(std::holds_alternative<Open>(s->message));
  CHECK(d.fsm.state() == State::OpenSent);
}

TEST_CASE("fsm: Connect + TcpConnectionFails goes Active and backs off; retry goes Connect") {
  Driver d;
  d.start();
  auto a = d.fsm.connect_failed(d.conn, d.now, "connection refused");
  CHECK(d.fsm.state() == State::Active);
  auto retry = armed(a, TimerKind::ConnectRetry);
  REQUIRE(retry);
  CHECK(in_range(retry->after, 3000ms, 4000ms));  // second step: 4 s base
  CHECK(d.fsm.last_error() == "connect failed: connection refused");

  auto b = d.fire(*retry);
  auto c = first_of<Connect>(b);
  REQUIRE(c);
  CHECK(c->conn != d.conn);  // connection ids are never reused
  CHECK(d.fsm.state() == State::Connect);
  auto next = armed(b, TimerKind::ConnectRetry);
  REQUIRE(next);
  CHECK(in_range(next->after, 6000ms, 8000ms));
}

TEST_CASE("fsm: Connect + ConnectRetry expiry abandons the attempt and connects again") {
  Driver d;
  auto a = d.start();
  const ConnId first = d.conn;
  auto b = d.fire(*armed(a, TimerKind::ConnectRetry));
  CHECK(closes(b, first));
  auto c = first_of<Connect>(b);
  REQUIRE(c);
  CHECK(c->conn != first);
  CHECK(d.fsm.state() == State::Connect);
  // A late success of the abandoned attempt is closed, not used.
  auto late = d.fsm.connected(first, d.now, kLocal, kRemote, false);
  CHECK(closes(late, first));
  CHECK(d.fsm.state() == State::Connect);
}

TEST_CASE("fsm: backoff is capped and ConnectRetry steps follow 2^n") {
  auto cfg = base_config();
  cfg.connect_retry = 2s;
  cfg.connect_retry_max = 10s;
  Driver d(cfg);
  auto a = d.start();
  std::vector<Clock::duration> seen;
  for (int i = 0; i < 5; ++i) {
    auto t = armed(a, TimerKind::ConnectRetry);
    REQUIRE(t);
    seen.push_back(t->after);
    a = d.fire(*t);
  }
  CHECK(in_range(seen[0], 1500ms, 2000ms));
  CHECK(in_range(seen[1], 3000ms, 4000ms));
  CHECK(in_range(seen[2], 6000ms, 8000ms));
  CHECK(in_range(seen[3], 7500ms, 10000ms));  // capped at 10 s
  CHECK(in_range(seen[4], 7500ms, 10000ms));
}

TEST_CASE("fsm: the same seed gives the same jitter, another seed differs") {
  auto run = [](std::uint64_t seed) {
    Driver d(base_config(), seed);
    return armed(d.start(), TimerKind::ConnectRetry)->after;
  };
  CHECK(run(1) == run(1));
  CHECK(run(1) != run(2));
}

TEST_CASE("fsm: Connect + TcpCRAcked sends OPEN and goes OpenSent") {
  auto cfg = base_config();
  cfg.local_as = 4200000000;  // needs 4 octets
  cfg.role = Role::Customer;
  Driver d(cfg);
  d.start();
  auto a = d.fsm.connected(d.conn, d.now, kLocal, kRemote, false);
  CHECK(cancelled(a, TimerKind::ConnectRetry));
  auto s = first_of<SendMessage>(a);
  REQUIRE(s);
  const auto& o = std::get<Open>(s->message);
  CHECK(o.version == 4);
  CHECK(o.my_as == kAsTrans);  // RFC 6793 4.2.1
  CHECK(o.caps.four_octet_as == 4200000000u);
  CHECK(o.hold_time == 90);
  CHECK(o.bgp_id == 0xC0000201);
  CHECK(o.caps.multiprotocol == std::vector<Family>{kIpv4Unicast, kIpv6Unicast});
  CHECK(o.caps.route_refresh);
  CHECK(o.caps.enhanced_route_refresh);
  CHECK(o.caps.extended_message);
  CHECK(o.caps.role == Role::Customer);
  CHECK_FALSE(o.caps.graceful_restart);  // never advertised
  auto hold = armed(a, TimerKind::Hold);
  REQUIRE(hold);
  CHECK(hold->after == kOpenHoldTime);  // 4 minutes while waiting for the OPEN
  CHECK(hold->timer.conn == d.conn);
  CHECK(d.fsm.state() == State::OpenSent);
}

TEST_CASE("fsm: OpenSent + acceptable OPEN negotiates and goes OpenConfirm") {
  Driver d;
  auto a = d.to_open_confirm(peer_open(30));
  CHECK(d.fsm.state() == State::OpenConfirm);
  auto s = first_of<SendMessage>(a);
  REQUIRE(s);
  CHECK(std::holds_alternative<Keepalive>(s->message));
  auto hold = armed(a, TimerKind::Hold);
  REQUIRE(hold);
  CHECK(hold->after == 30s);  // the smaller hold time wins
  auto ka = armed(a, TimerKind::Keepalive);
  REQUIRE(ka);
  CHECK(in_range(ka->after, 7500ms, 10000ms));  // 30 / 3, jittered
  const auto& n = *d.fsm.negotiated();
  CHECK(n.hold_time == 30);
  CHECK(n.keepalive == 10);
  CHECK(n.peer_as == 65001);
  CHECK(n.peer_bgp_id == 0xC0000202);
  CHECK(n.families == std::vector<Family>{kIpv4Unicast, kIpv6Unicast});
  CHECK(n.route_refresh);
  CHECK_FALSE(n.enhanced_route_refresh);
  CHECK(n.codec.four_octet_as);
  CHECK_FALSE(n.codec.extended_message);
}

TEST_CASE("fsm: configured keepalive and families intersect with the neighbor's") {
  auto cfg = base_config();
  cfg.keepalive = 5;
  Driver d(cfg);
  auto o = peer_open(90);
  o.caps.multiprotocol.clear();  // RFC 4760: no capability means IPv4 unicast only
  d.to_open_confirm(o);
  const auto& n = *d.fsm.negotiated();
  CHECK(n.keepalive == 5);
  CHECK(n.families == std::vector<Family>{kIpv4Unicast});
}

TEST_CASE("fsm: hold time 0 runs no hold and no keepalive timer") {
  Driver d;
  auto a = d.to_open_confirm(peer_open(0));
  CHECK(cancelled(a, TimerKind::Hold));
  CHECK_FALSE(armed(a, TimerKind::Hold));
  CHECK_FALSE(armed(a, TimerKind::Keepalive));
  auto b = d.fsm.message(d.conn, Keepalive{}, d.now);
  CHECK(d.fsm.state() == State::Established);
  CHECK_FALSE(armed(b, TimerKind::Hold));
}

TEST_CASE("fsm: OpenSent + unacceptable OPEN sends the OPEN error and goes Idle") {
  struct Case {
    const char* what;
    Open open;
    std::uint8_t subcode;
  };
  Open bad_as = peer_open();
  bad_as.caps.four_octet_as = 65099;
  Open hold1 = peer_open(1);
  Open same_id = peer_open(90, 0xC0000201);
  for (const auto& c : {Case{"peer AS", bad_as, 2}, Case{"hold 1", hold1, 6},
                        Case{"BGP id", same_id, 3}}) {
    CAPTURE(c.what);
    Driver d;
    auto a = d.to_open_sent();
    a = d.fsm.message(d.conn, c.open, d.now);
    auto n = notifications(a);
    REQUIRE(n.size() == 1);
    CHECK(n[0].code == 2);
    CHECK(n[0].subcode == c.subcode);
    CHECK(closes(a, d.conn));
    CHECK(d.fsm.state() == State::Idle);
    auto idle = armed(a, TimerKind::IdleHold);
    REQUIRE(idle);
    CHECK(in_range(idle->after, 750ms, 1000ms));
    CHECK_FALSE(first_of<SessionDown>(a));  // it never was up
  }
}

TEST_CASE("fsm: required family missing from the OPEN is 2/7") {
  auto cfg = base_config();
  cfg.require_families = {kIpv6Unicast};
  Driver d(cfg);
  auto o = peer_open();
  o.caps.multiprotocol = {kIpv4Unicast};
  auto a = d.to_open_confirm(o);
  auto n = notifications(a);
  REQUIRE(n.size() == 1);
  CHECK(n[0].code == 2);
  CHECK(n[0].subcode == 7);
  CHECK(d.fsm.state() == State::Idle);
}

TEST_CASE("fsm: unexpected messages get the RFC 6608 subcode of the state") {
  SUBCASE("KEEPALIVE in OpenSent is 5/1") {
    Driver d;
    d.to_open_sent();
    auto n = notifications(d.fsm.message(d.conn, Keepalive{}, d.now));
    REQUIRE(n.size() == 1);
    CHECK(n[0] == Notification::make(ErrorCode::FiniteStateMachineError,
                                     FsmSubcode::UnexpectedInOpenSent));
    CHECK(d.fsm.state() == State::Idle);
  }
  SUBCASE("UPDATE in OpenSent is 5/1") {
    Driver d;
    d.to_open_sent();
    auto n = notifications(d.fsm.message(d.conn, Update{}, d.now));
    REQUIRE(n.size() == 1);
    CHECK(n[0].subcode == 1);
  }
  SUBCASE("UPDATE in OpenConfirm is 5/2") {
    Driver d;
    d.to_open_confirm();
    auto n = notifications(d.fsm.message(d.conn, Update{}, d.now));
    REQUIRE(n.size() == 1);
    CHECK(n[0].code == 5);
    CHECK(n[0].subcode == 2);
    CHECK(d.fsm.state() == State::Idle);
  }
  SUBCASE("OPEN in OpenConfirm is 5/2") {
    Driver d;
    d.to_open_confirm();
    auto n = notifications(d.fsm.message(d.conn, peer_open(), d.now));
    REQUIRE(n.size() == 1);
    CHECK(n[0].subcode == 2);
  }
  SUBCASE("OPEN in Established is 5/3 and the session goes down") {
    Driver d;
    d.to_established();
    auto a = d.fsm.message(d.conn, peer_open(), d.now);
    auto n = notifications(a);
    REQUIRE(n.size() == 1);
    CHECK(n[0].code == 5);
    CHECK(n[0].subcode == 3);
    CHECK(first_of<SessionDown>(a));
    CHECK(d.fsm.state() == State::Idle);
  }
}

TEST_CASE("fsm: OpenConfirm + KEEPALIVE is Established") {
  Driver d;
  d.to_open_confirm();
  d.now += 1s;
  auto a = d.fsm.message(d.conn, Keepalive{}, d.now);
  auto up = first_of<SessionUp>(a);
  REQUIRE(up);
  CHECK(up->conn == d.conn);
  auto sc = first_of<StateChange>(a);
  REQUIRE(sc);
  CHECK(sc->from == State::OpenConfirm);
  CHECK(sc->to == State::Established);
  CHECK(d.fsm.established_conn() == d.conn);
  // The hold timer only moves its deadline: no re-arm action per message.
  CHECK_FALSE(armed(a, TimerKind::Hold));
  CHECK(d.fsm.since() == d.now);
}

TEST_CASE("fsm: Established restarts the hold timer on KEEPALIVE, UPDATE and ROUTE-REFRESH") {
  Driver d;
  auto oc = d.to_open_confirm();
  auto hold = armed(oc, TimerKind::Hold);
  REQUIRE(hold);
  REQUIRE(hold->after == 90s);
  const auto armed_at = d.now;
  d.fsm.message(d.conn, Keepalive{}, d.now);
  for (const Message& m : {Message{Keepalive{}}, Message{Update{}},
                           Message{RouteRefresh{kIpv4Unicast, RouteRefreshSubtype::Normal}}}) {
    d.now += 10s;
    auto a = d.fsm.message(d.conn, m, d.now);
    CHECK_FALSE(armed(a, TimerKind::Hold));  // deadline moved inside the engine
    CHECK(d.fsm.state() == State::Established);
  }
  // The transport's timer goes off at the first deadline: re-armed for the remaining 30 s.
  d.now = armed_at + 90s;
  auto a = d.fsm.timer(hold->timer, d.now);
  CHECK(notifications(a).empty());
  auto rest = armed(a, TimerKind::Hold);
  REQUIRE(rest);
  CHECK(rest->after == 30s);
  CHECK(d.fsm.state() == State::Established);
  // Nothing more heard: now it expires.
  auto b = d.fire(*rest);
  REQUIRE(notifications(b).size() == 1);
  CHECK(notifications(b)[0].code == 4);
  CHECK(d.fsm.state() == State::Idle);
}

TEST_CASE("fsm: a peer keeping alive every third of the hold time never lets the hold timer go off") {
  // The transport's timer is pushed out once it would go off within half the hold time, so an
  // idle session does not wake the process for its hold timer, and re-arms stay rare.
  Driver d;
  auto oc = d.to_open_confirm();
  auto hold = armed(oc, TimerKind::Hold);
  REQUIRE(hold);
  auto fires_at = d.now + hold->after;  // when the transport's timer would go off
  auto timer = hold->timer;
  d.fsm.message(d.conn, Keepalive{}, d.now);
  int rearms = 0;
  for (int i = 0; i < 12; ++i) {
    d.now += 30s;
    REQUIRE(d.now < fires_at);  // the transport's timer has not gone off
    auto a = d.fsm.message(d.conn, Keepalive{}, d.now);
    if (auto h = armed(a, TimerKind::Hold)) {
      CHECK(h->after == 90s);
      fires_at = d.now + h->after;
      timer = h->timer;
      ++rearms;
    }
  }
  CHECK(rearms == 6);  // every other keepalive: each time the timer was 30 s from going off
  // Silence: it expires 90 s after the last keepalive.
  d.now = fires_at;
  auto b = d.fsm.timer(timer, d.now);
  REQUIRE(notifications(b).size() == 1);
  CHECK(notifications(b)[0].code == 4);
}

TEST_CASE("fsm: a keepalive due within half its interval leaves early with another session's") {
  Driver d;  // hold 90 s: keepalive every 30 s, jittered to 22.5-30 s
  auto oc = d.to_open_confirm();  // sends our KEEPALIVE and starts the interval
  auto ka = armed(oc, TimerKind::Keepalive);
  REQUIRE(ka);
  const auto armed_at = d.now;
  d.fsm.message(d.conn, Keepalive{}, d.now);
  REQUIRE(d.fsm.state() == State::Established);
  // Right after arming (within RFC 4271's one second): never.
  d.now += 500ms;
  CHECK(d.fsm.keepalive_early(d.now).empty());
  // Due in more than half the interval (15 s): not yet.
  d.now = armed_at + ka->after - 16s;
  CHECK(d.fsm.keepalive_early(d.now).empty());
  // Due within 15 s: a KEEPALIVE now, and the interval starts again from here.
  d.now = armed_at + ka->after - 14s;
  auto a = d.fsm.keepalive_early(d.now);
  REQUIRE(a.size() >= 2);
  const auto* m = std::get_if<SendMessage>(&a[0]);
  REQUIRE(m);
  CHECK(std::holds_alternative<Keepalive>(m->message));
  auto again = armed(a, TimerKind::Keepalive);
  REQUIRE(again);
  CHECK(in_range(again->after, 22500ms, 30s));
  // The old expiry is stale now: ignored, no second KEEPALIVE.
  CHECK(d.fsm.timer(ka->timer, armed_at + ka->after).empty());
  // Not Established: nothing.
  Driver o;
  o.to_open_confirm();
  o.now += 29s;
  CHECK(o.fsm.keepalive_early(o.now).empty());
}

TEST_CASE("fsm: hold timer expiry sends 4/0 and goes Idle with damping") {
  Driver d;
  auto oc = d.to_open_confirm();
  auto hold = armed(oc, TimerKind::Hold);
  REQUIRE(hold);
  d.fsm.message(d.conn, Keepalive{}, d.now);
  // A wake-up before the deadline (a re-armed timer's stale expiry) changes nothing.
  CHECK(d.fsm.timer(hold->timer, d.now + 89s).empty());
  auto b = d.fire(*hold);
  auto n = notifications(b);
  REQUIRE(n.size() == 1);
  CHECK(n[0].code == 4);
  CHECK(n[0].subcode == 0);
  CHECK(closes(b, d.conn));
  auto down = first_of<SessionDown>(b);
  REQUIRE(down);
  CHECK(down->reason == "hold timer expired");
  CHECK(d.fsm.state() == State::Idle);
  CHECK(cancelled(b, TimerKind::Keepalive));
  REQUIRE(armed(b, TimerKind::IdleHold));
  // The same timer firing again is ignored.
  CHECK(d.fsm.timer(hold->timer, d.now + 1h).empty());
}

TEST_CASE("fsm: hold timer expiry in OpenSent sends 4/0") {
  Driver d;
  auto a = d.to_open_sent();
  auto b = d.fire(*armed(a, TimerKind::Hold));
  auto n = notifications(b);
  REQUIRE(n.size() == 1);
  CHECK(n[0].code == 4);
  CHECK(d.fsm.state() == State::Idle);
}

TEST_CASE("fsm: keepalive timer sends KEEPALIVE and re-arms") {
  // The keepalive timer is armed on entering OpenConfirm and keeps running when Established.
  Driver e;
  auto oc = e.to_open_confirm();
  auto k = armed(oc, TimerKind::Keepalive);
  REQUIRE(k);
  e.fsm.message(e.conn, Keepalive{}, e.now);
  auto b = e.fire(*k);
  auto s = first_of<SendMessage>(b);
  REQUIRE(s);
  CHECK(std::holds_alternative<Keepalive>(s->message));
  auto again = armed(b, TimerKind::Keepalive);
  REQUIRE(again);
  CHECK(in_range(again->after, 22500ms, 30000ms));
}

TEST_CASE("fsm: NOTIFICATION received ends the session without an answer") {
  Driver d;
  d.to_established();
  auto a = d.fsm.message(d.conn, Notification::shutdown("maintenance"), d.now);
  CHECK(notifications(a).empty());
  CHECK(closes(a, d.conn));
  auto log = first_of<Log>(a);
  REQUIRE(log);
  CHECK(log->text.find("received NOTIFICATION") == 0);
  CHECK(log->text.find("maintenance") != std::string::npos);
  REQUIRE(first_of<SessionDown>(a));
  CHECK(d.fsm.state() == State::Idle);
}

TEST_CASE("fsm: TCP loss in OpenSent goes Active, in OpenConfirm and Established Idle") {
  SUBCASE("OpenSent") {
    Driver d;
    d.to_open_sent();
    auto a = d.fsm.closed(d.conn, d.now, "connection reset");
    CHECK(d.fsm.state() == State::Active);
    CHECK(armed(a, TimerKind::ConnectRetry));
    CHECK(cancelled(a, TimerKind::Hold));
  }
  SUBCASE("OpenConfirm") {
    Driver d;
    d.to_open_confirm();
    auto a = d.fsm.closed(d.conn, d.now, "connection reset");
    CHECK(d.fsm.state() == State::Idle);
    CHECK(armed(a, TimerKind::IdleHold));
  }
  SUBCASE("Established") {
    Driver d;
    d.to_established();
    auto a = d.fsm.closed(d.conn, d.now, "end of stream");
    CHECK(d.fsm.state() == State::Idle);
    auto down = first_of<SessionDown>(a);
    REQUIRE(down);
    CHECK(down->reason == "connection closed: end of stream");
    CHECK(notifications(a).empty());
  }
}

TEST_CASE("fsm: Idle refuses connections; active mode refuses inbound ones") {
  Driver d;
  auto a = d.fsm.connected(d.fsm.allocate_conn_id(), d.now, kLocal, kRemote, true);
  CHECK(all_of<Close>(a).size() == 1);
  CHECK(d.fsm.state() == State::Idle);

  auto cfg = base_config();
  cfg.mode = ConnectMode::Active;
  Driver e(cfg);
  e.start();
  const ConnId in = e.fsm.allocate_conn_id();
  auto b = e.fsm.connected(in, e.now, kLocal, kRemote, true);
  CHECK(closes(b, in));
  CHECK(e.fsm.state() == State::Connect);
}

TEST_CASE("fsm: ManualStop sends Cease with the shutdown text and stays Idle") {
  Driver d;
  d.to_established();
  auto a = d.fsm.stop(d.now, Notification::shutdown("planned maintenance"));
  auto n = notifications(a);
  REQUIRE(n.size() == 1);
  CHECK(n[0].code == 6);
  CHECK(n[0].subcode == 2);
  CHECK(n[0].shutdown_communication() == "planned maintenance");
  CHECK(closes(a, d.conn));
  CHECK(first_of<SessionDown>(a));
  CHECK_FALSE(armed(a, TimerKind::IdleHold));  // no automatic restart
  CHECK(d.fsm.state() == State::Idle);
  // start() brings it back.
  auto b = d.start();
  CHECK(first_of<Connect>(b));
}

TEST_CASE("fsm: an operator reset sends 6/4 and connects again after the undamped idle hold") {
  Driver d;
  // A failure first: the next automatic restart would be damped to 2 s.
  d.to_established();
  d.now += 5s;
  auto f = d.fire(*armed(d.fsm.closed(d.conn, d.now, "lost"), TimerKind::IdleHold));
  d.conn = first_of<Connect>(f)->conn;
  d.fsm.connected(d.conn, d.now, kLocal, kRemote, false);
  d.fsm.message(d.conn, peer_open(), d.now);
  d.fsm.message(d.conn, Keepalive{}, d.now);
  REQUIRE(d.fsm.state() == State::Established);

  auto a = d.fsm.reset(d.now, Notification::shutdown("operator reset", CeaseSubcode::AdministrativeReset));
  auto n = notifications(a);
  REQUIRE(n.size() == 1);
  CHECK(n[0].code == 6);
  CHECK(n[0].subcode == 4);
  CHECK(n[0].shutdown_communication() == "operator reset");
  CHECK(closes(a, d.conn));
  CHECK(first_of<SessionDown>(a));
  // Not at once: the neighbor is still tearing the old session down and would refuse it.
  CHECK_FALSE(first_of<Connect>(a));
  CHECK(d.fsm.state() == State::Idle);
  auto sc = first_of<StateChange>(a);
  REQUIRE(sc);
  CHECK(sc->reason.starts_with("reset: Cease/Administrative Reset (6/4)"));
  CHECK(sc->reason.find("connecting again in") != std::string::npos);
  // The idle hold's base (1 s, jittered), not the damped 2 s: an operator's reset is a start.
  auto hold = armed(a, TimerKind::IdleHold);
  REQUIRE(hold);
  CHECK(in_range(hold->after, 750ms, 1000ms));
  auto b = d.fire(*hold);
  CHECK(first_of<Connect>(b));
  CHECK(d.fsm.state() == State::Connect);
}

TEST_CASE("fsm: ManualStop while connecting just closes the attempt") {
  Driver d;
  d.start();
  auto a = d.fsm.stop(d.now, Notification::shutdown("bye"));
  CHECK(notifications(a).empty());
  CHECK(closes(a, d.conn));
  CHECK(cancelled(a, TimerKind::ConnectRetry));
  CHECK(d.fsm.state() == State::Idle);
}

TEST_CASE("fsm: IdleHold damping grows per failure and resets after a stable session") {
  Driver d;
  std::vector<Clock::duration> idle;
  // First failure comes from a start(); later ones from automatic restarts.
  d.to_established();
  d.now += 5s;
  auto a = d.fsm.closed(d.conn, d.now, "reset");
  idle.push_back(armed(a, TimerKind::IdleHold)->after);
  auto b = d.fire(*armed(a, TimerKind::IdleHold));
  d.conn = first_of<Connect>(b)->conn;
  d.fsm.connected(d.conn, d.now, kLocal, kRemote, false);
  d.fsm.message(d.conn, peer_open(), d.now);
  d.fsm.message(d.conn, Keepalive{}, d.now);
  for (int i = 0; i < 2; ++i) {
    d.now += 5s;
    auto x = d.fsm.closed(d.conn, d.now, "reset");
    auto t = armed(x, TimerKind::IdleHold);
    REQUIRE(t);
    idle.push_back(t->after);
    auto y = d.fire(*t);
    d.conn = first_of<Connect>(y)->conn;
    d.fsm.connected(d.conn, d.now, kLocal, kRemote, false);
    d.fsm.message(d.conn, peer_open(), d.now);
    d.fsm.message(d.conn, Keepalive{}, d.now);
  }
  CHECK(in_range(idle[0], 750ms, 1000ms));
  CHECK(in_range(idle[1], 1500ms, 2000ms));
  CHECK(in_range(idle[2], 3000ms, 4000ms));
  // This session stays up past stable_time (60 s): the next failure starts from 1 s again.
  d.now += 61s;
  auto z = d.fsm.closed(d.conn, d.now, "reset");
  auto t = armed(z, TimerKind::IdleHold);
  REQUIRE(t);
  CHECK(in_range(t->after, 750ms, 1000ms));
}

// Outbound connection `out` reaches OpenConfirm, then the neighbor's own connection arrives
// and sends its OPEN: RFC 4271 6.8 keeps the connection initiated by the higher BGP id.
TEST_CASE("fsm: collision keeps the connection initiated by the higher BGP identifier") {
  SUBCASE("remote id higher: our outbound connection is closed") {
    Driver d;
    d.to_open_confirm(peer_open(90, 0xC0000202));
    const ConnId out = d.conn;
    const ConnId in = d.fsm.allocate_conn_id();
    auto a = d.fsm.connected(in, d.now, kLocal, kRemote, true);
    CHECK(first_of<SendMessage>(a)->conn == in);  // OPEN on the new connection too
    CHECK(d.fsm.state() == State::OpenConfirm);
    auto b = d.fsm.message(in, peer_open(90, 0xC0000202), d.now);
    auto n = notifications(b);
    REQUIRE(n.size() == 1);
    CHECK(n[0] == Notification::make(ErrorCode::Cease,
                                     CeaseSubcode::ConnectionCollisionResolution));
    CHECK(all_of<SendMessage>(b)[0].conn == out);
    CHECK(closes(b, out));
    CHECK_FALSE(closes(b, in));
    CHECK(d.fsm.state() == State::OpenConfirm);
    auto c = d.fsm.message(in, Keepalive{}, d.now);
    CHECK(first_of<SessionUp>(c)->conn == in);
    CHECK(d.fsm.state() == State::Established);
  }
  SUBCASE("remote id lower: the inbound connection is closed") {
    Driver d;
    d.to_open_confirm(peer_open(90, 0xC0000101));
    const ConnId out = d.conn;
    const ConnId in = d.fsm.allocate_conn_id();
    d.fsm.connected(in, d.now, kLocal, kRemote, true);
    auto b = d.fsm.message(in, peer_open(90, 0xC0000101), d.now);
    auto n = notifications(b);
    REQUIRE(n.size() == 1);
    CHECK(n[0].subcode == 7);
    CHECK(closes(b, in));
    CHECK_FALSE(closes(b, out));
    CHECK(d.fsm.state() == State::OpenConfirm);
    d.fsm.message(out, Keepalive{}, d.now);
    CHECK(d.fsm.established_conn() == out);
  }
}

TEST_CASE("fsm: a connection arriving while Established is closed with Cease 7") {
  Driver d;
  d.to_established();
  const ConnId in = d.fsm.allocate_conn_id();
  auto a = d.fsm.connected(in, d.now, kLocal, kRemote, true);
  auto n = notifications(a);
  REQUIRE(n.size() == 1);
  CHECK(n[0].subcode == 7);
  CHECK(closes(a, in));
  CHECK_FALSE(closes(a, d.conn));
  CHECK(d.fsm.state() == State::Established);
}

TEST_CASE("fsm: reaching Established closes the other connection still in OpenSent") {
  Driver d;
  d.to_open_confirm();
  const ConnId in = d.fsm.allocate_conn_id();
  d.fsm.connected(in, d.now, kLocal, kRemote, true);  // OpenSent, no OPEN yet
  auto a = d.fsm.message(d.conn, Keepalive{}, d.now);
  CHECK(first_of<SessionUp>(a));
  CHECK(closes(a, in));
  CHECK(notifications(a).size() == 1);
  // Losing the other connection is no reason to go down.
  CHECK(d.fsm.state() == State::Established);
  CHECK_FALSE(first_of<SessionDown>(a));
}

TEST_CASE("fsm: an inbound connection replaces a pending outbound attempt") {
  Driver d;
  d.start();
  const ConnId in = d.fsm.allocate_conn_id();
  auto a = d.fsm.connected(in, d.now, kLocal, kRemote, true);
  CHECK(closes(a, d.conn));
  CHECK(cancelled(a, TimerKind::ConnectRetry));
  CHECK(d.fsm.state() == State::OpenSent);
}

TEST_CASE("fsm: send hold timer closes a session whose neighbor stops reading (RFC 9687)") {
  auto cfg = base_config();
  cfg.send_hold = 30s;
  Driver d(cfg);
  auto a = d.to_open_sent();
  auto sh = armed(a, TimerKind::SendHold);
  REQUIRE(sh);  // the OPEN is queued
  CHECK(sh->after == 30s);
  // Written out: the timer stops.
  auto b = d.fsm.sent(d.conn, d.now, true);
  CHECK(cancelled(b, TimerKind::SendHold));
  auto k = d.fsm.message(d.conn, peer_open(), d.now);  // sends KEEPALIVE: armed again
  auto sh2 = armed(k, TimerKind::SendHold);
  REQUIRE(sh2);
  const auto armed_at = d.now;
  d.fsm.message(d.conn, Keepalive{}, d.now);
  FsmActions more;
  d.fsm.note_sending(d.conn, d.now, more);  // nothing new: already pending
  CHECK(more.empty());
  // Partial progress at +10 s moves the deadline to +40 s; the transport's timer, due in 20 s
  // (more than half of 30 s), is left alone.
  d.now += 10s;
  CHECK(d.fsm.sent(d.conn, d.now, false).empty());
  d.now = armed_at + 30s;
  auto c = d.fsm.timer(sh2->timer, d.now);
  CHECK(notifications(c).empty());
  auto again = armed(c, TimerKind::SendHold);
  REQUIRE(again);
  CHECK(again->after == 10s);
  // Progress at +35 s, the timer due in 5 s (within half of 30 s): it is pushed out to +65 s
  // at once, so the transport does not wake up at +40 s for nothing.
  d.now = armed_at + 35s;
  auto p = d.fsm.sent(d.conn, d.now, false);
  auto pushed = armed(p, TimerKind::SendHold);
  REQUIRE(pushed);
  CHECK(pushed->after == 30s);
  d.now = armed_at + 40s;
  CHECK(d.fsm.timer(again->timer, d.now).empty());  // the old expiry is stale: ignored
  d.now = armed_at + 35s;
  auto e = d.fire(*pushed);
  auto n = notifications(e);
  REQUIRE(n.size() == 1);
  CHECK(n[0].code == kSendHoldTimerExpiredCode);
  CHECK(first_of<SessionDown>(e));
  CHECK(d.fsm.state() == State::Idle);
}

TEST_CASE("fsm: default send hold is max(8 min, 2 x hold)") {
  Driver d;
  auto a = d.to_open_sent();
  CHECK(armed(a, TimerKind::SendHold)->after == std::chrono::minutes(8));
}

TEST_CASE("fsm: a 4-octet AS neighbor sends AS_TRANS and the capability") {
  auto cfg = base_config();
  cfg.peer_as = 4200000001;
  Driver d(cfg);
  auto o = peer_open();
  o.my_as = kAsTrans;
  o.caps.four_octet_as = 4200000001;
  d.to_open_confirm(o);
  REQUIRE(d.fsm.state() == State::OpenConfirm);
  CHECK(d.fsm.negotiated()->peer_as == 4200000001u);
  CHECK_FALSE(d.fsm.negotiated()->codec.ibgp);
}

TEST_CASE("fsm: same AS on both sides negotiates iBGP for the codec") {
  auto cfg = base_config();
  cfg.peer_as = 65000;
  Driver d(cfg);
  auto o = peer_open();
  o.my_as = 65000;
  o.caps.four_octet_as = 65000;
  d.to_open_confirm(o);
  CHECK(d.fsm.negotiated()->codec.ibgp);
}

TEST_CASE("fsm: OpenSent + NOTIFICATION goes Idle") {
  Driver d;
  d.to_open_sent();
  auto a = d.fsm.message(d.conn, Notification::make(ErrorCode::OpenMessageError,
                                                    OpenSubcode::BadPeerAs), d.now);
  CHECK(notifications(a).empty());
  CHECK(closes(a, d.conn));
  CHECK(d.fsm.state() == State::Idle);
  CHECK(d.fsm.last_error().find("received NOTIFICATION") == 0);
}

TEST_CASE("fsm: passive peer restarts into Active after IdleHold") {
  auto cfg = base_config();
  cfg.mode = ConnectMode::Passive;
  Driver d(cfg);
  d.start();
  const ConnId in = d.fsm.allocate_conn_id();
  d.fsm.connected(in, d.now, kLocal, kRemote, true);
  d.fsm.message(in, peer_open(), d.now);
  auto a = d.fsm.message(in, Notification::shutdown("x"), d.now);
  auto idle = armed(a, TimerKind::IdleHold);
  REQUIRE(idle);
  auto b = d.fire(*idle);
  CHECK_FALSE(first_of<Connect>(b));
  CHECK(d.fsm.state() == State::Active);
}

TEST_CASE("fsm: a newer inbound connection replaces an older one") {
  auto cfg = base_config();
  cfg.mode = ConnectMode::Passive;
  Driver d(cfg);
  d.start();
  const ConnId first = d.fsm.allocate_conn_id();
  d.fsm.connected(first, d.now, kLocal, kRemote, true);
  const ConnId second = d.fsm.allocate_conn_id();
  auto a = d.fsm.connected(second, d.now, kLocal, kRemote, true);
  CHECK(closes(a, first));
  CHECK_FALSE(closes(a, second));
  CHECK(d.fsm.state() == State::OpenSent);
  // Timers of the closed connection no longer fire.
  CHECK(d.fsm.timer(TimerId{TimerKind::Hold, first}, d.now + 1h).empty());
  CHECK(d.fsm.message(first, peer_open(), d.now).empty());
}

TEST_CASE("fsm: both connections in OpenSent, OPENs arrive one after the other") {
  Driver d;
  d.to_open_sent();
  const ConnId out = d.conn;
  const ConnId in = d.fsm.allocate_conn_id();
  d.fsm.connected(in, d.now, kLocal, kRemote, true);
  CHECK(d.fsm.state() == State::OpenSent);
  d.fsm.message(out, peer_open(), d.now);  // out: OpenConfirm, in: still OpenSent
  CHECK(d.fsm.state() == State::OpenConfirm);
  auto a = d.fsm.message(in, peer_open(), d.now);  // remote id higher: keep inbound
  CHECK(closes(a, out));
  d.fsm.message(in, Keepalive{}, d.now);
  CHECK(d.fsm.established_conn() == in);
}

TEST_CASE("fsm: ManualStop from every state ends in Idle without automatic restart") {
  struct Case {
    const char* state;
    std::function<void(Driver&)> reach;
    bool notifies;
  };
  const std::vector<Case> cases{
      {"Idle", [](Driver&) {}, false},
      {"Connect", [](Driver& d) { d.start(); }, false},
      {"Active",
       [](Driver& d) {
         d.start();
         d.fsm.connect_failed(d.conn, d.now, "refused");
       },
       false},
      {"OpenSent", [](Driver& d) { d.to_open_sent(); }, true},
      {"OpenConfirm", [](Driver& d) { d.to_open_confirm(); }, true},
      {"Established", [](Driver& d) { d.to_established(); }, true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.state);
    Driver d;
    c.reach(d);
    CHECK(to_string(d.fsm.state()) == c.state);
    auto a = d.fsm.stop(d.now, Notification::shutdown("bye"));
    CHECK(notifications(a).size() == (c.notifies ? 1u : 0u));
    CHECK(d.fsm.state() == State::Idle);
    CHECK_FALSE(armed(a, TimerKind::IdleHold));
    CHECK_FALSE(armed(a, TimerKind::ConnectRetry));
    CHECK(first_of<SessionDown>(a).has_value() == (std::string(c.state) == "Established"));
  }
}

TEST_CASE("fsm: OpenConfirm hold expiry and NOTIFICATION go Idle") {
  SUBCASE("hold timer") {
    Driver d;
    auto a = d.to_open_confirm(peer_open(9));
    auto b = d.fire(*armed(a, TimerKind::Hold));
    REQUIRE(notifications(b).size() == 1);
    CHECK(notifications(b)[0].code == 4);
    CHECK(d.fsm.state() == State::Idle);
  }
  SUBCASE("NOTIFICATION") {
    Driver d;
    d.to_open_confirm();
    auto a = d.fsm.message(d.conn, Notification::make(ErrorCode::Cease,
                                                      CeaseSubcode::OutOfResources), d.now);
    CHECK(notifications(a).empty());
    CHECK(d.fsm.state() == State::Idle);
    CHECK(armed(a, TimerKind::IdleHold));
  }
}

TEST_CASE("fsm: an error reported by the caller sends it and goes Idle") {
  Driver d;
  d.to_established();
  auto a = d.fsm.error(d.conn, d.now,
                       Notification::make(ErrorCode::UpdateMessageError,
                                          UpdateSubcode::MalformedAttributeList),
                       "malformed message");
  auto n = notifications(a);
  REQUIRE(n.size() == 1);
  CHECK(n[0].code == 3);
  CHECK(n[0].subcode == 1);
  CHECK(first_of<SessionDown>(a)->reason == "malformed message");
  CHECK(d.fsm.state() == State::Idle);
}

TEST_CASE("fsm: backoff helper doubles, caps and resets") {
  Backoff b(100ms, 350ms);
  Rng rng(1);
  CHECK(b.peek() == 100ms);
  auto v = b.next(rng);
  CHECK(in_range(v, 75ms, 100ms));
  CHECK(b.peek() == 200ms);
  b.next(rng);
  CHECK(b.peek() == 350ms);
  b.next(rng);
  CHECK(b.peek() == 350ms);
  b.reset();
  CHECK(b.peek() == 100ms);
}

}  // namespace
}  // namespace herald::bgp

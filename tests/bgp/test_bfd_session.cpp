// RFC 5880 single-hop BFD session engine, driven with a hand-advanced clock: the three-way
// handshake, every state transition, the slow rate while not Up, poll/final, timer
// negotiation, detection time expiry, jitter and the session-level discard rules.
#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include "bgp/bfd_session.hpp"

namespace herald::bgp::bfd {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kLocalDisc = 0x11;
constexpr std::uint32_t kRemoteDisc = 0x22;

SessionConfig fast(Micros tx = 50ms, Micros rx = 50ms, std::uint8_t mult = 3) {
  return SessionConfig{tx, rx, mult};
}

template <typename T>
std::vector<T> all_of(const Actions& a) {
  std::vector<T> out;
  for (const auto& x : a)
    if (auto* p = std::get_if<T>(&x)) out.push_back(*p);
  return out;
}
template <typename T>
std::optional<T> first_of(const Actions& a) {
  auto v = all_of<T>(a);
  if (v.empty()) return std::nullopt;
  return v.front();
}
// The last arming of timer `t` (an arming restarts an armed timer).
std::optional<ArmTimer> armed(const Actions& a, Timer t) {
  std::optional<ArmTimer> found;
  for (const auto& x : a)
    if (auto* p = std::get_if<ArmTimer>(&x); p && p->timer == t) found = *p;
  return found;
}

// The checked-for-presence forms: a missing action fails the test instead of reading an empty
// optional.
ControlPacket sent_packet(const Actions& a) {
  auto p = first_of<SendPacket>(a);
  REQUIRE(p);
  return p->packet;
}
StateChange change(const Actions& a) {
  auto c = first_of<StateChange>(a);
  REQUIRE(c);
  return *c;
}
Clock::duration armed_after(const Actions& a, Timer t) {
  auto x = armed(a, t);
  REQUIRE(x);
  return x->after;
}

// What the neighbor sends: its state, and our discriminator once it has learned it.
ControlPacket remote(State s, Micros tx = 50ms, Micros rx = 50ms, std::uint8_t mult = 3) {
  ControlPacket p;
  p.state = s;
  p.detect_mult = mult;
  p.my_discriminator = kRemoteDisc;
  p.your_discriminator = s == State::Down || s == State::AdminDown ? 0 : kLocalDisc;
  p.desired_min_tx_us = static_cast<std::uint32_t>(tx.count());
  p.required_min_rx_us = static_cast<std::uint32_t>(rx.count());
  return p;
}

struct Driver {
  explicit Driver(SessionConfig c = fast()) : s(c, kLocalDisc, 7) {}
  Session s;
  Clock::time_point now = Clock::time_point{} + 1000s;
  Actions last;

  Actions rx(const ControlPacket& p) {
    auto r = s.receive(p, now);
    REQUIRE(r);
    last = *r;
    return last;
  }
  // Start and complete the handshake (Down -> Init -> Up) with a neighbor using `tx`/`rx`.
  void to_up(Micros tx = 50ms, Micros rx_ = 50ms) {
    s.start(now);
    rx(remote(State::Down, tx, rx_));
    rx(remote(State::Up, tx, rx_));
    REQUIRE(s.state() == State::Up);
  }
  Actions fire(Timer t, Clock::duration after) {
    now += after;
    last = s.timer(t, now);
    return last;
  }
};

TEST_CASE("bfd session: start sends Down at once and then at the slow rate (6.8.3)") {
  Driver d;
  auto a = d.s.start(d.now);
  auto p = first_of<SendPacket>(a);
  REQUIRE(p);
  CHECK(p->packet.state == State::Down);
  CHECK(p->packet.my_discriminator == kLocalDisc);
  CHECK(p->packet.your_discriminator == 0);
  CHECK(p->packet.desired_min_tx_us == 1'000'000);  // 1 s while not Up, though 50 ms is configured
  CHECK(p->packet.required_min_rx_us == 50'000);
  CHECK(p->packet.detect_mult == 3);
  auto t = armed(a, Timer::Transmit);
  REQUIRE(t);
  CHECK(t->after >= 750ms);
  CHECK(t->after <= 1000ms);
  // The periodic packet on expiry, and the next one jittered again.
  auto b = d.fire(Timer::Transmit, t->after);
  CHECK(all_of<SendPacket>(b).size() == 1);
  CHECK(armed(b, Timer::Transmit));
  CHECK(d.s.status().sent == 2);
}

TEST_CASE("bfd session: three-way handshake Down -> Init -> Up, then poll to the fast rate") {
  Driver d;
  d.s.start(d.now);
  auto a = d.rx(remote(State::Down));
  auto ch = first_of<StateChange>(a);
  REQUIRE(ch);
  CHECK(ch->from == State::Down);
  CHECK(ch->to == State::Init);
  auto p = first_of<SendPacket>(a);
  REQUIRE(p);  // sent at once, not after the slow interval
  CHECK(p->packet.state == State::Init);
  CHECK(p->packet.your_discriminator == kRemoteDisc);
  CHECK(armed_after(a, Timer::Detect) == 3 * 50ms);  // 3 x max(our RX 50 ms, its TX 50 ms)

  a = d.rx(remote(State::Up, 1s, 50ms));  // still advertising its slow rate
  ch = first_of<StateChange>(a);
  REQUIRE(ch);
  CHECK(ch->to == State::Up);
  CHECK(ch->diag == Diag::NoDiagnostic);
  p = first_of<SendPacket>(a);
  REQUIRE(p);
  // Up: the configured 50 ms replaces the slow rate, announced with a Poll Sequence.
  CHECK(p->packet.state == State::Up);
  CHECK(p->packet.poll);
  CHECK(p->packet.desired_min_tx_us == 50'000);
  CHECK(d.s.status().poll_active);
  // A faster rate is used at once: max(50 ms, its RX 50 ms).
  CHECK(d.s.status().tx_interval == 50ms);
  CHECK(armed_after(a, Timer::Transmit) <= 50ms);
  CHECK(armed_after(a, Timer::Detect) == 3s);  // 3 x its 1 s TX

  // Periodic packets keep P until the Final.
  a = d.fire(Timer::Transmit, armed_after(a, Timer::Transmit));
  CHECK(sent_packet(a).poll);
  auto fin = remote(State::Up);
  fin.final = true;
  d.rx(fin);
  CHECK_FALSE(d.s.status().poll_active);
  CHECK(d.s.status().detect_time == 150ms);
  a = d.fire(Timer::Transmit, 50ms);
  CHECK_FALSE(sent_packet(a).poll);
}

TEST_CASE("bfd session: Down + neighbor Init goes straight to Up") {
  Driver d;
  d.s.start(d.now);
  auto a = d.rx(remote(State::Init));
  CHECK(change(a).to == State::Up);
}

TEST_CASE("bfd session: Down ignores a neighbor that is Up (it must see our Down first)") {
  Driver d;
  d.s.start(d.now);
  auto a = d.rx(remote(State::Up));
  CHECK_FALSE(first_of<StateChange>(a));
  CHECK(d.s.state() == State::Down);
}

TEST_CASE("bfd session: Init + neighbor Init goes Up; Init + neighbor AdminDown goes Down (diag 3)") {
  Driver d;
  d.s.start(d.now);
  d.rx(remote(State::Down));
  REQUIRE(d.s.state() == State::Init);
  d.rx(remote(State::Init));
  CHECK(d.s.state() == State::Up);

  Driver e;
  e.s.start(e.now);
  e.rx(remote(State::Down));
  auto a = e.rx(remote(State::AdminDown));
  auto ch = first_of<StateChange>(a);
  REQUIRE(ch);
  CHECK(ch->to == State::Down);
  CHECK(ch->diag == Diag::NeighborSignaledSessionDown);
}

TEST_CASE("bfd session: Up + neighbor Down goes Down with diag 3 and counts a flap") {
  Driver d;
  d.to_up();
  auto a = d.rx(remote(State::Down));
  auto ch = first_of<StateChange>(a);
  REQUIRE(ch);
  CHECK(ch->from == State::Up);
  CHECK(ch->to == State::Down);
  CHECK(ch->diag == Diag::NeighborSignaledSessionDown);
  auto p = first_of<SendPacket>(a);
  REQUIRE(p);
  CHECK(p->packet.state == State::Down);
  CHECK(p->packet.diag == Diag::NeighborSignaledSessionDown);
  CHECK(p->packet.desired_min_tx_us == 1'000'000);  // back to the slow rate, no poll
  CHECK_FALSE(p->packet.poll);
  CHECK(d.s.status().flaps == 1);
  // The neighbor's Down packet also restarts the handshake: the next one takes us to Init.
  a = d.rx(remote(State::Down));
  CHECK(d.s.state() == State::Init);
}

TEST_CASE("bfd session: Up + neighbor Init stays Up") {
  Driver d;
  d.to_up();
  auto a = d.rx(remote(State::Init));
  CHECK_FALSE(first_of<StateChange>(a));
  CHECK(d.s.state() == State::Up);
}

TEST_CASE("bfd session: detection time expiry takes Up Down with diag 1 and forgets the neighbor") {
  Driver d;
  d.to_up();
  auto det = armed(d.last, Timer::Detect);
  REQUIRE(det);
  CHECK(det->after == 150ms);
  // An early (stale) expiry does nothing.
  auto a = d.fire(Timer::Detect, 100ms);
  CHECK(a.empty());
  a = d.fire(Timer::Detect, 50ms);
  auto ch = first_of<StateChange>(a);
  REQUIRE(ch);
  CHECK(ch->from == State::Up);
  CHECK(ch->to == State::Down);
  CHECK(ch->diag == Diag::ControlDetectionTimeExpired);
  auto p = first_of<SendPacket>(a);
  REQUIRE(p);
  CHECK(p->packet.your_discriminator == 0);  // 6.8.1: RemoteDiscr zeroed
  CHECK(p->packet.diag == Diag::ControlDetectionTimeExpired);
  CHECK(d.s.status().flaps == 1);
  CHECK(d.s.status().remote_discriminator == 0);
  CHECK(d.s.status().tx_interval == 1s);
  // A second expiry is no longer expected.
  CHECK(d.fire(Timer::Detect, 1s).empty());
}

TEST_CASE("bfd session: a packet restarts the detection timer, so a later expiry is stale") {
  Driver d;
  d.to_up();
  d.now += 100ms;
  d.rx(remote(State::Up));
  CHECK(d.fire(Timer::Detect, 60ms).empty());  // 160 ms after the first arming, 60 after the second
  CHECK(d.s.state() == State::Up);
  auto a = d.fire(Timer::Detect, 90ms);
  CHECK(change(a).diag == Diag::ControlDetectionTimeExpired);
}

TEST_CASE("bfd session: detection in Init also expires; in Down it only clears the neighbor") {
  Driver d;
  d.s.start(d.now);
  d.rx(remote(State::Down, 1s, 1s));
  REQUIRE(d.s.state() == State::Init);
  auto a = d.fire(Timer::Detect, 3s);
  CHECK(change(a).to == State::Down);
  CHECK(d.s.status().flaps == 0);  // never was Up

  d.rx(remote(State::AdminDown, 1s, 1s));  // Down + AdminDown: no change
  CHECK(d.s.state() == State::Down);
  CHECK(d.s.status().remote_discriminator == kRemoteDisc);
  a = d.fire(Timer::Detect, 3s);
  CHECK_FALSE(first_of<StateChange>(a));
  CHECK(d.s.status().remote_discriminator == 0);
}

TEST_CASE("bfd session: a Poll is answered at once with Final and without P") {
  Driver d;
  d.to_up();
  auto poll = remote(State::Up, 100ms, 200ms);
  poll.poll = true;
  auto a = d.rx(poll);
  auto sends = all_of<SendPacket>(a);
  REQUIRE(sends.size() == 1);
  CHECK(sends[0].packet.final);
  CHECK_FALSE(sends[0].packet.poll);  // even though our own poll is still running
  CHECK(d.s.status().poll_active);
  // The new values: we send every max(50, 200) ms, and detect after 3 x max(50, 100) ms.
  CHECK(d.s.status().tx_interval == 200ms);
  auto t = armed(a, Timer::Transmit);
  REQUIRE(t);
  CHECK(t->after >= 150ms);
  CHECK(armed_after(a, Timer::Detect) == 300ms);
}

TEST_CASE("bfd session: timer negotiation uses the larger of each side's values") {
  Driver d(fast(100ms, 300ms, 4));
  d.to_up(20ms, 500ms);
  auto fin = remote(State::Up, 20ms, 500ms, 5);
  fin.final = true;
  d.rx(fin);
  auto st = d.s.status();
  CHECK(st.tx_interval == 500ms);      // max(our TX 100, its RX 500)
  CHECK(st.detect_time == 5 * 300ms);  // its mult x max(our RX 300, its TX 20)
  CHECK(st.remote_detect_mult == 5);
  CHECK(sent_packet(d.s.timer(Timer::Transmit, d.now + 1s)).detect_mult == 4);
}

TEST_CASE("bfd session: a slower TX while Up waits for the Final (6.8.3)") {
  Driver d;
  d.to_up();
  auto fin = remote(State::Up);
  fin.final = true;
  d.rx(fin);
  REQUIRE_FALSE(d.s.status().poll_active);
  auto a = d.s.reconfigure(fast(300ms, 50ms), d.now);
  CHECK(d.s.status().poll_active);
  CHECK(d.s.status().tx_interval == 50ms);  // not yet
  a = d.fire(Timer::Transmit, 50ms);
  auto p = first_of<SendPacket>(a);
  REQUIRE(p);
  CHECK(p->packet.poll);
  CHECK(p->packet.desired_min_tx_us == 300'000);  // advertised at once
  a = d.rx(fin);
  CHECK_FALSE(d.s.status().poll_active);
  CHECK(d.s.status().tx_interval == 300ms);
  CHECK(armed_after(a, Timer::Transmit) >= 225ms);
}

TEST_CASE("bfd session: a shorter RX while Up keeps the old detection time until the Final") {
  Driver d(fast(50ms, 200ms));
  d.to_up();
  auto fin = remote(State::Up);
  fin.final = true;
  d.rx(fin);
  REQUIRE(d.s.status().detect_time == 600ms);
  d.s.reconfigure(fast(50ms, 50ms), d.now);
  CHECK(armed_after(d.rx(remote(State::Up)), Timer::Detect) == 600ms);
  CHECK(armed_after(d.rx(fin), Timer::Detect) == 150ms);
  // A longer RX is safe at once (and still polled for).
  d.s.reconfigure(fast(50ms, 400ms), d.now);
  CHECK(d.s.status().poll_active);
  CHECK(armed_after(d.rx(remote(State::Up)), Timer::Detect) == 1200ms);
}

TEST_CASE("bfd session: a change during a poll is polled for again after the Final") {
  Driver d;
  d.to_up();  // poll for 1 s -> 50 ms running
  d.s.reconfigure(fast(60ms, 50ms), d.now);
  auto fin = remote(State::Up);
  fin.final = true;
  d.rx(fin);
  CHECK(d.s.status().poll_active);  // the second sequence
  d.rx(fin);
  CHECK_FALSE(d.s.status().poll_active);
}

TEST_CASE("bfd session: reconfiguring while Down changes the packets without a poll") {
  Driver d;
  d.s.start(d.now);
  d.s.reconfigure(fast(50ms, 80ms, 5), d.now);
  CHECK_FALSE(d.s.status().poll_active);
  auto p = first_of<SendPacket>(d.fire(Timer::Transmit, 1s));
  REQUIRE(p);
  CHECK(p->packet.required_min_rx_us == 80'000);
  CHECK(p->packet.desired_min_tx_us == 1'000'000);
  CHECK(p->packet.detect_mult == 5);
}

TEST_CASE("bfd session: jitter stays in 75-100%, and in 75-90% with multiplier 1 (6.8.7)") {
  for (std::uint8_t mult : {std::uint8_t{3}, std::uint8_t{1}}) {
    Driver d(fast(100ms, 100ms, mult));
    d.to_up(10ms, 10ms);
    auto fin = remote(State::Up, 10ms, 10ms);
    fin.final = true;
    d.rx(fin);
    Clock::duration lo = 1h, hi = 0s;
    Clock::duration after = armed_after(d.fire(Timer::Transmit, 1s), Timer::Transmit);
    for (int i = 0; i < 200; ++i) {
      auto a = d.fire(Timer::Transmit, after);
      after = armed_after(a, Timer::Transmit);
      lo = std::min(lo, after);
      hi = std::max(hi, after);
    }
    CHECK(lo >= 75ms);
    CHECK(hi <= (mult == 1 ? 90ms : 100ms));
    CHECK(hi > 85ms);  // the range is really used
    CHECK(lo < 80ms);
  }
}

TEST_CASE("bfd session: session-level discards (6.8.6)") {
  Driver d;
  // Not started yet: behaves as AdminDown.
  auto r = d.s.receive(remote(State::Down), d.now);
  REQUIRE_FALSE(r);
  CHECK(r.error() == PacketError::SessionAdminDown);
  d.s.start(d.now);
  auto wrong = remote(State::Up);
  wrong.your_discriminator = 0x99;
  r = d.s.receive(wrong, d.now);
  REQUIRE_FALSE(r);
  CHECK(r.error() == PacketError::UnknownYourDiscriminator);
  CHECK(d.s.status().received == 0);
}

TEST_CASE("bfd session: AdminDown tells the neighbor with diag 7, drops packets, start resumes") {
  Driver d;
  d.to_up();
  auto a = d.s.stop(d.now);
  auto ch = first_of<StateChange>(a);
  REQUIRE(ch);
  CHECK(ch->to == State::AdminDown);
  CHECK(ch->diag == Diag::AdministrativelyDown);
  auto p = first_of<SendPacket>(a);
  REQUIRE(p);
  CHECK(p->packet.state == State::AdminDown);
  CHECK(p->packet.diag == Diag::AdministrativelyDown);
  bool cancelled = false;
  for (const auto& x : a)
    if (auto* c = std::get_if<CancelTimer>(&x); c && c->timer == Timer::Detect) cancelled = true;
  CHECK(cancelled);
  CHECK(d.s.status().flaps == 1);
  auto r = d.s.receive(remote(State::Up), d.now);
  REQUIRE_FALSE(r);
  CHECK(r.error() == PacketError::SessionAdminDown);
  a = d.s.start(d.now);
  CHECK(change(a).to == State::Down);
  CHECK(d.s.state() == State::Down);
}

TEST_CASE("bfd session: no periodic packets when the neighbor's RequiredMinRx is 0 or in Demand mode") {
  Driver d;
  d.to_up();
  auto quiet = remote(State::Up, 50ms, 0ms);
  d.rx(quiet);
  auto a = d.fire(Timer::Transmit, 1s);
  CHECK(all_of<SendPacket>(a).empty());
  CHECK(armed(a, Timer::Transmit));

  Driver e;
  e.to_up();
  auto fin = remote(State::Up);
  fin.final = true;
  fin.demand = true;
  e.rx(fin);
  CHECK(all_of<SendPacket>(e.fire(Timer::Transmit, 1s)).empty());
}

TEST_CASE("bfd session: configuration limits") {
  CHECK_FALSE(fast().check());
  CHECK(fast(5ms).check());
  CHECK(fast(50ms, 61s).check());
  CHECK(fast(50ms, 50ms, 0).check());
}

}  // namespace
}  // namespace herald::bgp::bfd

#include "bgp/bfd_session.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>

#include <fmt/format.h>

namespace herald::bgp::bfd {

namespace {

constexpr Micros kMinInterval{10'000};      // herald's floor: 10 ms
constexpr Micros kMaxInterval{60'000'000};  // and ceiling: 60 s

std::uint32_t wire_us(Micros m) {
  return static_cast<std::uint32_t>(std::clamp<Micros::rep>(m.count(), 0, 0xffffffff));
}

}  // namespace

std::optional<std::string> SessionConfig::check() const {
  if (desired_min_tx < kMinInterval || desired_min_tx > kMaxInterval)
    return fmt::format("BFD desired min TX {} us outside 10 ms..60 s", desired_min_tx.count());
  if (required_min_rx < kMinInterval || required_min_rx > kMaxInterval)
    return fmt::format("BFD required min RX {} us outside 10 ms..60 s", required_min_rx.count());
  if (detect_mult == 0) return std::string("BFD detect multiplier must be at least 1");
  return std::nullopt;
}

std::string_view to_string(Timer t) { return t == Timer::Transmit ? "transmit" : "detect"; }

Session::Session(SessionConfig config, std::uint32_t local_discriminator, std::uint64_t rng_seed)
    : cfg_(config), local_disc_(local_discriminator), rng_(rng_seed) {
  if (auto err = cfg_.check()) {
    std::fprintf(stderr, "bfd: invalid session configuration: %s\n", err->c_str());
    std::abort();
  }
  if (local_disc_ == 0) {
    std::fprintf(stderr, "bfd: local discriminator 0 (RFC 5880 6.8.1 forbids it)\n");
    std::abort();
  }
  adv_tx_ = eff_tx_ = std::max(cfg_.desired_min_tx, kSlowTxInterval);
  adv_rx_ = eff_rx_ = cfg_.required_min_rx;
}

Actions Session::start(Clock::time_point now) {
  Actions out;
  if (started_ && state_ != State::AdminDown) return out;
  started_ = true;
  if (state_ == State::AdminDown) {
    set_state(State::Down, Diag::NoDiagnostic, "administratively enabled", now, out);
  } else {
    since_ = now;
    send(false, out);
    arm_tx(now, out);
  }
  return out;
}

Actions Session::stop(Clock::time_point now) {
  Actions out;
  if (state_ == State::AdminDown) return out;
  started_ = true;
  set_state(State::AdminDown, Diag::AdministrativelyDown, "administratively disabled", now, out);
  detect_deadline_.reset();
  out.push_back(CancelTimer{Timer::Detect});
  return out;
}

Expected<Actions, PacketError> Session::receive(const ControlPacket& p, Clock::time_point now) {
  // RFC 5880 6.8.6, the checks that need the session.
  if (p.your_discriminator != 0 && p.your_discriminator != local_disc_)
    return unexpected(PacketError::UnknownYourDiscriminator);
  if (state_ == State::AdminDown || !started_) return unexpected(PacketError::SessionAdminDown);
  Actions out;
  ++received_;
  remote_disc_ = p.my_discriminator;
  remote_state_ = p.state;
  remote_diag_ = p.diag;
  remote_demand_ = p.demand;
  remote_desired_tx_ = Micros(p.desired_min_tx_us);
  remote_min_rx_ = Micros(p.required_min_rx_us);
  remote_mult_ = p.detect_mult;

  // "If the Final (F) bit is set and the local system is sending a Poll Sequence, the Poll
  // Sequence MUST be terminated": the new values take effect now.
  if (p.final && poll_active_) {
    poll_active_ = false;
    eff_tx_ = adv_tx_;
    eff_rx_ = adv_rx_;
    if (poll_again_) {
      poll_again_ = false;
      begin_poll();
    }
  }

  // RFC 5880 6.8.6 state machine.
  if (p.state == State::AdminDown) {
    if (state_ != State::Down)
      set_state(State::Down, Diag::NeighborSignaledSessionDown, "neighbor is AdminDown", now, out);
  } else if (state_ == State::Down) {
    if (p.state == State::Down) {
      set_state(State::Init, Diag::NoDiagnostic, "neighbor is Down", now, out);
    } else if (p.state == State::Init) {
      set_state(State::Up, Diag::NoDiagnostic, "neighbor is Init", now, out);
    }
  } else if (state_ == State::Init) {
    if (p.state == State::Init || p.state == State::Up)
      set_state(State::Up, Diag::NoDiagnostic, fmt::format("neighbor is {}", to_string(p.state)), now, out);
  } else if (state_ == State::Up) {
    if (p.state == State::Down)
      set_state(State::Down, Diag::NeighborSignaledSessionDown, "neighbor signaled Down", now, out);
  }

  // The remote's RequiredMinRx may have changed our transmit interval: re-arm from now, which
  // never sends sooner than the new interval allows.
  if (tx_interval() != last_tx_interval_) arm_tx(now, out);
  arm_detect(now, out);
  // RFC 5880 6.8.7: a Poll is answered at once with Final, regardless of the transmit timer.
  if (p.poll) send(true, out);
  return out;
}

Actions Session::timer(Timer t, Clock::time_point now) {
  Actions out;
  if (t == Timer::Transmit) {
    if (!tx_deadline_ || now < *tx_deadline_) return out;  // stale
    tx_deadline_.reset();
    if (periodic_allowed()) send(false, out);
    arm_tx(now, out);
    return out;
  }
  if (!detect_deadline_ || now < *detect_deadline_) return out;  // stale
  detect_deadline_.reset();
  // RFC 5880 6.8.1: bfd.RemoteDiscr MUST be zeroed when the Detection Time expires, and the
  // remote's timing is forgotten with it.
  remote_disc_ = 0;
  remote_state_ = State::Down;
  remote_demand_ = false;
  remote_min_rx_ = Micros(1);
  remote_desired_tx_ = Micros(0);
  remote_mult_ = 0;
  if (state_ == State::Init || state_ == State::Up) {
    set_state(State::Down, Diag::ControlDetectionTimeExpired,
              fmt::format("no packet for {} us (detection time)", armed_detect_time_.count()), now, out);
  }
  if (tx_interval() != last_tx_interval_) arm_tx(now, out);
  return out;
}

Actions Session::reconfigure(SessionConfig config, Clock::time_point now) {
  if (auto err = config.check()) {
    std::fprintf(stderr, "bfd: invalid session configuration: %s\n", err->c_str());
    std::abort();
  }
  Actions out;
  cfg_ = config;
  update_advertised(now, out, true);
  return out;
}

SessionStatus Session::status() const {
  SessionStatus s;
  s.state = state_;
  s.remote_state = remote_state_;
  s.local_diag = diag_;
  s.remote_diag = remote_diag_;
  s.local_discriminator = local_disc_;
  s.remote_discriminator = remote_disc_;
  s.tx_interval = tx_interval();
  s.detect_time = remote_mult_ == 0 ? Micros(0) : detect_time();
  s.remote_desired_min_tx = remote_desired_tx_;
  s.remote_required_min_rx = remote_min_rx_;
  s.remote_detect_mult = remote_mult_;
  s.poll_active = poll_active_;
  s.flaps = flaps_;
  s.sent = sent_;
  s.received = received_;
  s.since = since_;
  return s;
}

void Session::set_state(State to, Diag diag, std::string reason, Clock::time_point now, Actions& out) {
  const State from = state_;
  if (from == to) return;
  if (from == State::Up) ++flaps_;
  state_ = to;
  // The diagnostic tells the neighbor why we last left Up; a session coming Up clears it.
  diag_ = to == State::Up ? Diag::NoDiagnostic : diag;
  since_ = now;
  out.push_back(StateChange{from, to, diag_, std::move(reason)});
  update_advertised(now, out, false);
  // Tell the neighbor at once instead of waiting up to a (slow) transmit interval: this is how
  // the three-way handshake completes in one round trip. One extra packet per state change.
  send(false, out);
  arm_tx(now, out);
}

void Session::update_advertised(Clock::time_point now, Actions& out, bool rearm) {
  const Micros want_tx = state_ == State::Up ? cfg_.desired_min_tx : std::max(cfg_.desired_min_tx, kSlowTxInterval);
  const Micros want_rx = cfg_.required_min_rx;
  if (want_tx == adv_tx_ && want_rx == adv_rx_) return;
  if (state_ != State::Up) {
    // The neighbor's detection only runs while it is Init/Up and reads our packets' values
    // directly: no Poll Sequence is needed outside Up.
    adv_tx_ = eff_tx_ = want_tx;
    adv_rx_ = eff_rx_ = want_rx;
    poll_active_ = poll_again_ = false;
  } else {
    adv_tx_ = want_tx;
    adv_rx_ = want_rx;
    // RFC 5880 6.8.3: a faster transmit rate and a longer detection time are safe at once; a
    // slower rate and a shorter detection time wait for the Final.
    if (want_tx < eff_tx_) eff_tx_ = want_tx;
    if (want_rx > eff_rx_) eff_rx_ = want_rx;
    if (poll_active_) {
      poll_again_ = true;  // 6.5: one Poll Sequence at a time
    } else {
      begin_poll();
    }
  }
  if (rearm && started_ && state_ != State::AdminDown && tx_interval() != last_tx_interval_) arm_tx(now, out);
}

void Session::begin_poll() { poll_active_ = true; }

Micros Session::tx_interval() const { return std::max(eff_tx_, remote_min_rx_); }

Micros Session::detect_time() const { return remote_mult_ * std::max(eff_rx_, remote_desired_tx_); }

ControlPacket Session::make_packet(bool final) const {
  ControlPacket p;
  p.diag = diag_;
  p.state = state_;
  p.poll = poll_active_ && !final;  // 6.8.7: never P and F together
  p.final = final;
  p.detect_mult = cfg_.detect_mult;
  p.my_discriminator = local_disc_;
  p.your_discriminator = remote_disc_;
  p.desired_min_tx_us = wire_us(adv_tx_);
  p.required_min_rx_us = wire_us(adv_rx_);
  p.required_min_echo_rx_us = 0;  // no Echo function
  return p;
}

void Session::send(bool final, Actions& out) {
  ++sent_;
  out.push_back(SendPacket{make_packet(final)});
}

bool Session::periodic_allowed() const {
  // RFC 5880 6.8.7: never when the remote asked for no packets (RequiredMinRx 0), nor in
  // Demand mode once both sides are Up.
  if (remote_min_rx_ == Micros(0)) return false;
  if (remote_demand_ && state_ == State::Up && remote_state_ == State::Up && remote_disc_ != 0 && !poll_active_)
    return false;
  return true;
}

void Session::arm_tx(Clock::time_point now, Actions& out) {
  const Micros interval = tx_interval();
  last_tx_interval_ = interval;
  // RFC 5880 6.8.7: 75-100% of the interval, at most 90% when bfd.DetectMult is 1.
  const double high = cfg_.detect_mult == 1 ? 0.90 : 1.0;
  std::uniform_real_distribution<double> factor(0.75, high);
  const auto after = Micros(static_cast<Micros::rep>(static_cast<double>(interval.count()) * factor(rng_)));
  tx_deadline_ = now + after;
  out.push_back(ArmTimer{Timer::Transmit, after});
}

void Session::arm_detect(Clock::time_point now, Actions& out) {
  armed_detect_time_ = detect_time();
  detect_deadline_ = now + armed_detect_time_;
  out.push_back(ArmTimer{Timer::Detect, armed_detect_time_});
}

}  // namespace herald::bgp::bfd

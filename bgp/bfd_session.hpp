// One single-hop BFD session in Asynchronous mode (RFC 5880, RFC 5881) as a pure engine: no
// socket, no clock. Every event carries the current time; every output is an action for the
// transport (send this Control packet, arm or cancel a timer, the state changed). herald always
// takes the Active role (RFC 5880 6.1), never asks for Demand mode and has no Echo function.
//
// Timers (RFC 5880 6.8.2-6.8.4, 6.8.7):
// - Transmit: periodic Control packets every max(DesiredMinTx, remote RequiredMinRx), jittered to
//   75-100% (75-90% when the detect multiplier is 1). While the session is not Up the advertised
//   DesiredMinTx is at least 1 s (6.8.3).
// - Detect: armed on every accepted packet for remote DetectMult x max(RequiredMinRx, remote
//   DesiredMinTx); its expiry takes an Init/Up session Down with diagnostic 1.
// Timer changes while Up run a Poll Sequence (6.5): packets carry P until one with F arrives; a
// slower transmit rate or a shorter detection time takes effect only then (6.8.3).
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bgp/backoff.hpp"
#include "bgp/bfd_packet.hpp"
#include "base/expected.hpp"

namespace herald::bgp::bfd {

using Clock = std::chrono::steady_clock;
using Micros = std::chrono::microseconds;

// RFC 5880 6.8.3: the transmit interval advertised while the session is not Up.
inline constexpr Micros kSlowTxInterval{1'000'000};

// What the operator configures for one session.
struct SessionConfig {
  Micros desired_min_tx{300'000};
  Micros required_min_rx{300'000};
  std::uint8_t detect_mult = 3;
  // Error text when unusable (intervals below 10 ms or above 60 s, multiplier 0); nullopt if fine.
  std::optional<std::string> check() const;
  bool operator==(const SessionConfig&) const = default;
};

enum class Timer : std::uint8_t { Transmit, Detect };
std::string_view to_string(Timer t);

// ---- Actions (outputs), to carry out in order ----
struct SendPacket {
  ControlPacket packet;
};
// Arming an armed timer restarts it. Expiries the engine does not expect are ignored.
struct ArmTimer {
  Timer timer = Timer::Transmit;
  Clock::duration after{};
};
struct CancelTimer {
  Timer timer = Timer::Transmit;
};
// The local state changed (the one place where it is announced: log it here). `diag` is the
// local diagnostic after the change.
struct StateChange {
  State from = State::Down;
  State to = State::Down;
  Diag diag = Diag::NoDiagnostic;
  std::string reason;
};
using Action = std::variant<SendPacket, ArmTimer, CancelTimer, StateChange>;
using Actions = std::vector<Action>;

// A point-in-time view for status output and metrics.
struct SessionStatus {
  State state = State::Down;
  State remote_state = State::Down;
  Diag local_diag = Diag::NoDiagnostic;
  Diag remote_diag = Diag::NoDiagnostic;
  std::uint32_t local_discriminator = 0;
  std::uint32_t remote_discriminator = 0;
  Micros tx_interval{0};     // negotiated, before jitter
  Micros detect_time{0};     // 0 until a packet has been received
  Micros remote_desired_min_tx{0};
  Micros remote_required_min_rx{0};
  std::uint8_t remote_detect_mult = 0;
  bool poll_active = false;
  std::uint64_t flaps = 0;   // transitions out of Up
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  Clock::time_point since{};
};

class Session {
 public:
  // `config` must pass check() (aborts otherwise); `local_discriminator` must be nonzero and
  // unique on this system (RFC 5880 6.8.1). rng_seed drives the jitter.
  Session(SessionConfig config, std::uint32_t local_discriminator, std::uint64_t rng_seed);

  // Starts periodic transmission in state Down (the first packet goes out at once).
  Actions start(Clock::time_point now);
  // Administrative down (RFC 5880 6.8.16): state AdminDown with diagnostic 7, one packet at
  // once to tell the neighbor, then the slow rate; received packets are ignored until start().
  Actions stop(Clock::time_point now);
  // A packet that passed decode() and was demultiplexed to this session. Returns the
  // session-level discard reasons of RFC 5880 6.8.6 as an error value.
  Expected<Actions, PacketError> receive(const ControlPacket& packet, Clock::time_point now);
  Actions timer(Timer t, Clock::time_point now);
  // New intervals/multiplier. While Up this runs a Poll Sequence (RFC 5880 6.8.3).
  Actions reconfigure(SessionConfig config, Clock::time_point now);

  State state() const { return state_; }
  const SessionConfig& config() const { return cfg_; }
  SessionStatus status() const;

 private:
  void set_state(State to, Diag diag, std::string reason, Clock::time_point now, Actions& out);
  // Sets the advertised intervals for the current state (slow rate when not Up) and starts a
  // Poll Sequence when they change while Up; `rearm`: restart the transmit timer when the
  // interval changed (set_state() does it itself).
  void update_advertised(Clock::time_point now, Actions& out, bool rearm);
  void begin_poll();
  Micros tx_interval() const;
  Micros detect_time() const;
  ControlPacket make_packet(bool final) const;
  void send(bool final, Actions& out);
  void arm_tx(Clock::time_point now, Actions& out);
  void arm_detect(Clock::time_point now, Actions& out);
  bool periodic_allowed() const;

  SessionConfig cfg_;
  std::uint32_t local_disc_;
  Rng rng_;
  bool started_ = false;
  State state_ = State::Down;
  Diag diag_ = Diag::NoDiagnostic;
  Clock::time_point since_{};
  // Remote view (RFC 5880 6.8.1 bfd.Remote*); RemoteMinRxInterval starts at 1 us.
  std::uint32_t remote_disc_ = 0;
  State remote_state_ = State::Down;
  Diag remote_diag_ = Diag::NoDiagnostic;
  bool remote_demand_ = false;
  Micros remote_min_rx_{1};
  Micros remote_desired_tx_{0};
  std::uint8_t remote_mult_ = 0;
  // Intervals in our packets (advertised) and in our own timing (effective): they differ while
  // a Poll Sequence is in progress (RFC 5880 6.8.3).
  Micros adv_tx_;
  Micros adv_rx_;
  Micros eff_tx_;
  Micros eff_rx_;
  bool poll_active_ = false;
  bool poll_again_ = false;  // the values changed again during a poll: poll once more
  // Deadlines of the armed timers; an expiry before its deadline or of a timer not armed is
  // stale and ignored.
  std::optional<Clock::time_point> tx_deadline_;
  std::optional<Clock::time_point> detect_deadline_;
  Micros last_tx_interval_{0};
  Micros armed_detect_time_{0};
  std::uint64_t flaps_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
};

}  // namespace herald::bgp::bfd

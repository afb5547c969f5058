// The RFC 4271 section 8 session state machine of one neighbor, with no socket and no clock:
// every input carries the current time, every output is an action for the transport to carry
// out (connect, send, close, arm or cancel a timer). Peer (peer.hpp) wraps it with the codec
// and the routes; Fsm itself speaks typed messages only.
//
// Connections: the FSM may hold two at once, one it initiated and one the neighbor initiated,
// until RFC 4271 6.8 collision detection keeps one. Each has its own hold and keepalive timers.
// The reported State is that of the most advanced connection.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "base/log_level.hpp"
#include "bgp/backoff.hpp"
#include "bgp/codec.hpp"
#include "bgp/message.hpp"
#include "bgp/peer_config.hpp"
#include "bgp/types.hpp"

namespace herald::bgp {

using Clock = std::chrono::steady_clock;
// Names one TCP connection of a peer. Allocated by the engine (Connect actions, and
// Peer::allocate_conn_id() for inbound sockets); never reused by one engine. 0 means "none".
using ConnId = std::uint64_t;

// RFC 4271 8.2.2 states.
enum class State : std::uint8_t { Idle, Connect, Active, OpenSent, OpenConfirm, Established };
std::string_view to_string(State s);

// RFC 9687: NOTIFICATION error code 8, Send Hold Timer Expired (subcode 0).
inline constexpr std::uint8_t kSendHoldTimerExpiredCode = 8;
// RFC 4271 8.2.2: the hold timer while waiting for the OPEN ("a large value", 4 minutes).
inline constexpr std::chrono::seconds kOpenHoldTime{240};

enum class TimerKind : std::uint8_t {
  ConnectRetry,  // per peer: next outbound connection attempt / connect timeout
  IdleHold,      // per peer: leave Idle again after an error (automatic restart)
  Hold,          // per connection (RFC 4271 4.4)
  Keepalive,     // per connection
  SendHold,      // per connection (RFC 9687)
};
std::string_view to_string(TimerKind k);
// A timer the transport keeps for the engine. conn is 0 for the per-peer timers. Arming an
// armed timer restarts it. An expiry the engine no longer expects is ignored, so the transport
// need not worry about races between cancel and expiry.
struct TimerId {
  TimerKind kind = TimerKind::ConnectRetry;
  ConnId conn = 0;
  bool operator==(const TimerId&) const = default;
};
struct TimerIdHash {
  std::size_t operator()(const TimerId& t) const noexcept {
    return std::hash<std::uint64_t>{}(t.conn * 8 + static_cast<std::uint64_t>(t.kind));
  }
};

// ---- Actions (outputs) ----
// Open a TCP connection to remote:port (from `local` when set). The transport answers with
// on_connected(conn, ...) or on_connect_failed(conn, ...).
struct Connect {
  ConnId conn = 0;
  IpAddress remote;
  std::uint16_t port = 179;
  std::optional<IpAddress> local;
};
// Fsm-level send: Peer encodes it into Send (peer.hpp).
struct SendMessage {
  ConnId conn = 0;
  Message message;
};
// Close the connection after writing what was queued before (a NOTIFICATION must get out).
struct Close {
  ConnId conn = 0;
};
struct ArmTimer {
  TimerId timer;
  Clock::duration after{};
};
struct CancelTimer {
  TimerId timer;
};
// The reported state changed. The only place state changes are announced: log it here.
struct StateChange {
  State from = State::Idle;
  State to = State::Idle;
  std::string reason;
};
struct SessionUp {
  ConnId conn = 0;
};
struct SessionDown {
  std::string reason;
};
struct Log {
  LogLevel level = LogLevel::info;
  std::string text;
};
using FsmAction =
    std::variant<Connect, SendMessage, Close, ArmTimer, CancelTimer, StateChange, SessionUp,
                 SessionDown, Log>;
using FsmActions = std::vector<FsmAction>;

// What the two OPENs agreed on; valid from OpenConfirm on.
struct Negotiated {
  std::uint16_t hold_time = 0;  // seconds; 0: no hold timer, no keepalives
  std::uint16_t keepalive = 0;  // seconds (before jitter)
  std::uint32_t peer_as = 0;
  std::uint32_t peer_bgp_id = 0;
  std::vector<Family> families;  // advertised by both sides
  bool route_refresh = false;
  bool enhanced_route_refresh = false;
  CodecOptions codec;
  Open peer_open;
  IpAddress local_address;
  IpAddress remote_address;
};

class Fsm {
 public:
  // `config` must outlive the Fsm and pass config.check(). rng_seed makes jitter reproducible.
  Fsm(const PeerConfig& config, std::uint64_t rng_seed);

  // ---- Events (RFC 4271 8.1) ----
  FsmActions start(Clock::time_point now);  // ManualStart (clears damping) / AutomaticStart
  // ManualStop: Cease (`notification`, normally Administrative Shutdown with an RFC 9003 text)
  // on every open connection, then Idle with no automatic restart.
  FsmActions stop(Clock::time_point now, Notification notification);
  // An operator's reset: `notification` (Cease/Administrative Reset) on every open connection,
  // Idle, then an automatic start after the idle-hold time, undamped (earlier failures are
  // forgotten, as by start()). Not at once: a new connection races the NOTIFICATION, and a
  // neighbor that still holds the old session refuses it (BIRD rejects a second incoming
  // connection, FRR answers its OPEN with Cease/Connection Collision Resolution), so the session
  // would only come back after a connect-retry.
  FsmActions reset(Clock::time_point now, Notification notification);
  // TcpConnectionConfirmed (inbound) / TcpCRAcked (outbound). An inbound conn id comes from
  // allocate_conn_id(); an outbound one from a Connect action.
  FsmActions connected(ConnId conn, Clock::time_point now, const IpAddress& local,
                       const IpAddress& remote, bool inbound);
  FsmActions connect_failed(ConnId conn, Clock::time_point now, std::string_view reason);
  FsmActions closed(ConnId conn, Clock::time_point now, std::string_view reason);
  // A decoded message. UPDATE and ROUTE-REFRESH are only checked for the state (RFC 6608) and
  // restart the hold timer; their content is the caller's business.
  FsmActions message(ConnId conn, const Message& msg, Clock::time_point now);
  // An error found by the caller (framing, decoding, max-prefix): send `n`, close, go Idle.
  FsmActions error(ConnId conn, Clock::time_point now, Notification n, std::string_view reason);
  FsmActions timer(TimerId id, Clock::time_point now);
  // Another session's keepalive just went off: when this session's own is due within half its
  // interval (and the last one left at least a second ago, RFC 4271 4.4), send it now and
  // restart the interval, so a speaker's sessions share one wake-up instead of each having its
  // own. Nothing otherwise.
  FsmActions keepalive_early(Clock::time_point now);
  // The configuration this engine reads changed in place (Peer::reconfigure) in fields that do
  // not need a new session: takes the new connect-retry and idle-hold bounds.
  void reconfigured();
  // The caller emitted bytes on `conn` (starts the RFC 9687 send-hold timer if it is idle).
  void note_sending(ConnId conn, Clock::time_point now, FsmActions& out);
  // The transport wrote some queued bytes; `drained` when nothing is left queued.
  FsmActions sent(ConnId conn, Clock::time_point now, bool drained);

  ConnId allocate_conn_id() { return next_conn_++; }

  // ---- Queries ----
  State state() const { return reported_; }
  Clock::time_point since() const { return since_; }
  ConnId established_conn() const;  // 0 unless Established
  const std::optional<Negotiated>& negotiated() const { return negotiated_; }
  const std::string& last_error() const { return last_error_; }
  bool is_open_conn(ConnId conn) const { return find(conn) != nullptr; }
  // The OPEN this side sends (RFC 4271 4.2, RFC 5492 capabilities; never graceful restart).
  Open local_open() const;

 private:
  enum class ConnState : std::uint8_t { Connecting, OpenSent, OpenConfirm, Established };
  struct Conn {
    ConnId id = 0;
    bool inbound = false;
    ConnState state = ConnState::Connecting;
    IpAddress local;
    IpAddress remote;
    std::optional<Open> peer_open;
    bool send_pending = false;
  };

  Conn* find(ConnId id);
  void erase_conn(ConnId id);
  const Conn* find(ConnId id) const;
  void finish(Clock::time_point now, FsmActions& out);  // emits StateChange once per event
  State derive() const;
  void begin_connect(Clock::time_point now, FsmActions& out);
  // stop() and reset(): Cease on every connection, Idle; `restart` arms the undamped IdleHold.
  FsmActions shut_down(Clock::time_point now, Notification n, bool restart);
  void send(ConnId id, Message m, Clock::time_point now, FsmActions& out);
  void on_open(ConnId id, const Open& open, Clock::time_point now, FsmActions& out);
  // RFC 4271 6.8; true when the connection `id` lost and was closed.
  bool resolve_collision(ConnId id, const Open& open, Clock::time_point now, FsmActions& out);
  void enter_open_confirm(Conn& c, const Open& open, Clock::time_point now, FsmActions& out);
  void enter_established(ConnId id, Clock::time_point now, FsmActions& out);
  void restart_hold(ConnId id, Clock::time_point now, FsmActions& out);
  void arm_keepalive(ConnId id, Clock::time_point now, FsmActions& out);
  // Ends one connection (sending `n` first when set). With `to_idle` and no other connection
  // left, the peer goes Idle (automatic restart after the damped IdleHold time); without it,
  // back to Active (RFC 4271 8.2.2 TcpConnectionFails in OpenSent).
  void drop(ConnId id, Clock::time_point now, std::optional<Notification> n, std::string reason,
            bool to_idle, FsmActions& out);
  void go_idle(Clock::time_point now, bool automatic_restart, FsmActions& out);
  void arm(TimerId t, Clock::duration d, Clock::time_point now, FsmActions& out);
  // Like arm(), but when the timer runs and would fire no later than now + d, only moves its
  // deadline, unless it would fire within d/2 (then the transport's timer moves too).
  void extend(TimerId t, Clock::duration d, Clock::time_point now, FsmActions& out);
  void cancel(TimerId t, FsmActions& out);
  void cancel_conn_timers(ConnId id, FsmActions& out);
  std::chrono::milliseconds send_hold_time() const;

  const PeerConfig& cfg_;
  Rng rng_;
  Backoff connect_backoff_;
  Backoff idle_backoff_;
  std::vector<Conn> conns_;  // at most two
  ConnId next_conn_ = 1;
  bool running_ = false;        // started and not stopped (automatic restart allowed)
  bool idle_ = true;            // Idle: waiting for start or for the IdleHold timer
  // Armed timers. `fires` is when the transport's timer goes off, `deadline` when the timer
  // really expires: extend() only moves the deadline (no action per received UPDATE) until the
  // timer would fire within half its duration, and an expiry before the deadline re-arms the
  // transport's timer for the rest. An expiry before
  // `fires` (a re-armed timer's stale wake-up) or of a timer not armed is ignored.
  struct Armed {
    Clock::time_point deadline;
    Clock::time_point fires;
    Clock::time_point since;  // when arm() last started it
  };
  std::unordered_map<TimerId, Armed, TimerIdHash> timers_;
  std::optional<Negotiated> negotiated_;
  Clock::time_point established_at_{};
  State reported_ = State::Idle;
  Clock::time_point since_{};
  std::string reason_;  // why the state is about to change (consumed by finish())
  std::string last_error_;
};

}  // namespace herald::bgp

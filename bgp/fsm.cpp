// RFC 4271 section 8 as a table of (connection state x event) cases. Each public entry point
// handles one event, then finish() derives the reported State and announces a change once.
#include "bgp/fsm.hpp"

#include <algorithm>
#include <cstdlib>
#include <tuple>

namespace herald::bgp {

std::string_view to_string(State s) {
  switch (s) {
    case State::Idle: return "Idle";
    case State::Connect: return "Connect";
    case State::Active: return "Active";
    case State::OpenSent: return "OpenSent";
    case State::OpenConfirm: return "OpenConfirm";
    case State::Established: return "Established";
  }
  return "?";
}

std::string_view to_string(TimerKind k) {
  switch (k) {
    case TimerKind::ConnectRetry: return "ConnectRetry";
    case TimerKind::IdleHold: return "IdleHold";
    case TimerKind::Hold: return "Hold";
    case TimerKind::Keepalive: return "Keepalive";
    case TimerKind::SendHold: return "SendHold";
  }
  return "?";
}

namespace {

template <typename Sub>
Notification notify(ErrorCode c, Sub s) {
  return Notification::make(c, s);
}

std::string message_name(const Message& m) {
  switch (m.index()) {
    case 0: return "OPEN";
    case 1: return "UPDATE";
    case 2: return "NOTIFICATION";
    case 3: return "KEEPALIVE";
    default: return "ROUTE-REFRESH";
  }
}

}  // namespace

Fsm::Fsm(const PeerConfig& config, std::uint64_t rng_seed)
    : cfg_(config),
      rng_(rng_seed),
      connect_backoff_(config.connect_retry, config.connect_retry_max),
      idle_backoff_(config.idle_hold, config.idle_hold_max) {
  if (cfg_.check()) std::abort();  // contract: a checked configuration
}

void Fsm::reconfigured() {
  if (cfg_.check()) std::abort();  // contract: a checked configuration
  connect_backoff_.retune(cfg_.connect_retry, cfg_.connect_retry_max);
  idle_backoff_.retune(cfg_.idle_hold, cfg_.idle_hold_max);
}

Fsm::Conn* Fsm::find(ConnId id) {
  for (auto& c : conns_) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

const Fsm::Conn* Fsm::find(ConnId id) const {
  for (const auto& c : conns_) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

ConnId Fsm::established_conn() const {
  for (const auto& c : conns_) {
    if (c.state == ConnState::Established) return c.id;
  }
  return 0;
}

Open Fsm::local_open() const {
  Open o;
  o.version = 4;
  // RFC 6793 4.2.1: a 4-octet AS goes in the capability, AS_TRANS in My Autonomous System.
  o.my_as = cfg_.local_as > 0xFFFF ? kAsTrans : static_cast<std::uint16_t>(cfg_.local_as);
  o.hold_time = cfg_.hold_time;
  o.bgp_id = cfg_.router_id;
  o.caps.multiprotocol = cfg_.families;
  o.caps.route_refresh = cfg_.route_refresh;
  o.caps.enhanced_route_refresh = cfg_.route_refresh;
  o.caps.extended_message = cfg_.extended_message;
  o.caps.four_octet_as = cfg_.local_as;
  o.caps.role = cfg_.role;
  return o;
}

State Fsm::derive() const {
  if (idle_) return State::Idle;
  State best = State::Active;  // no connection: listening and/or waiting for ConnectRetry
  auto rank = [](State s) { return static_cast<int>(s); };
  for (const auto& c : conns_) {
    State s = State::Connect;
    switch (c.state) {
      case ConnState::Connecting: s = State::Connect; break;
      case ConnState::OpenSent: s = State::OpenSent; break;
      case ConnState::OpenConfirm: s = State::OpenConfirm; break;
      case ConnState::Established: s = State::Established; break;
    }
    // Connect (1) ranks below Active (2) in the enum but a pending connect is more progress
    // than none, so compare with Active treated as the floor.
    if (best == State::Active || rank(s) > rank(best)) best = s;
  }
  return best;
}

void Fsm::finish(Clock::time_point now, FsmActions& out) {
  const State s = derive();
  if (s != reported_) {
    out.push_back(StateChange{reported_, s, reason_});
    reported_ = s;
    since_ = now;
  }
  reason_.clear();
}

void Fsm::arm(TimerId t, Clock::duration d, Clock::time_point now, FsmActions& out) {
  timers_[t] = Armed{now + d, now + d, now};
  out.push_back(ArmTimer{t, d});
}

void Fsm::extend(TimerId t, Clock::duration d, Clock::time_point now, FsmActions& out) {
  auto it = timers_.find(t);
  if (it != timers_.end() && it->second.fires <= now + d) {
    it->second.deadline = now + d;
    // Once it would go off within half of d, push the transport's timer out as well: a hold
    // timer whose peer sends a keepalive every third of it then never wakes the process (an
    // idle daemon's wake-ups are its CPU), and a busy session still re-arms at most every d/2.
    if (it->second.fires - now < d / 2) {
      it->second.fires = now + d;
      out.push_back(ArmTimer{t, d});
    }
    return;
  }
  arm(t, d, now, out);
}

void Fsm::cancel(TimerId t, FsmActions& out) {
  if (timers_.erase(t) != 0) out.push_back(CancelTimer{t});
}

void Fsm::cancel_conn_timers(ConnId id, FsmActions& out) {
  for (auto k : {TimerKind::Hold, TimerKind::Keepalive, TimerKind::SendHold}) {
    cancel(TimerId{k, id}, out);
  }
}

std::chrono::milliseconds Fsm::send_hold_time() const {
  if (cfg_.send_hold) return *cfg_.send_hold;
  // RFC 9687 4: at least 8 minutes, and at least twice the hold time.
  const std::chrono::milliseconds hold =
      std::chrono::seconds(negotiated_ ? negotiated_->hold_time : cfg_.hold_time);
  return std::max<std::chrono::milliseconds>(std::chrono::minutes(8), 2 * hold);
}

void Fsm::send(ConnId id, Message m, Clock::time_point now, FsmActions& out) {
  out.push_back(SendMessage{id, std::move(m)});
  note_sending(id, now, out);
}

void Fsm::note_sending(ConnId id, Clock::time_point now, FsmActions& out) {
  Conn* c = find(id);
  if (c == nullptr || c->send_pending) return;
  c->send_pending = true;
  const auto d = send_hold_time();
  if (d.count() > 0) arm(TimerId{TimerKind::SendHold, id}, d, now, out);
}

FsmActions Fsm::sent(ConnId id, Clock::time_point now, bool drained) {
  FsmActions out;
  Conn* c = find(id);
  if (c == nullptr) return out;
  if (drained) {
    c->send_pending = false;
    cancel(TimerId{TimerKind::SendHold, id}, out);
  } else if (c->send_pending) {
    // Progress: RFC 9687 only fires when nothing at all could be written for the whole time.
    const auto d = send_hold_time();
    if (d.count() > 0) extend(TimerId{TimerKind::SendHold, id}, d, now, out);
  }
  return out;
}

// ---- Start / stop ----

void Fsm::begin_connect(Clock::time_point now, FsmActions& out) {
  const ConnId id = next_conn_++;
  Conn c;
  c.id = id;
  c.inbound = false;
  c.state = ConnState::Connecting;
  conns_.push_back(c);
  out.push_back(Connect{id, cfg_.peer_address, cfg_.port, cfg_.local_address});
  // The ConnectRetry timer doubles as the connect timeout (RFC 4271 8.2.2 Connect state).
  arm(TimerId{TimerKind::ConnectRetry, 0}, connect_backoff_.next(rng_), now, out);
}

FsmActions Fsm::start(Clock::time_point now) {
  FsmActions out;
  if (running_ && !idle_) return out;  // RFC 4271 8.2.2: ManualStart outside Idle is ignored
  // An operator start forgets earlier failures (RFC 4271 8.2.2: ConnectRetryCounter = 0).
  connect_backoff_.reset();
  idle_backoff_.reset();
  cancel(TimerId{TimerKind::IdleHold, 0}, out);
  running_ = true;
  idle_ = false;
  reason_ = "start";
  if (cfg_.mode != ConnectMode::Passive) begin_connect(now, out);
  finish(now, out);
  return out;
}

FsmActions Fsm::stop(Clock::time_point now, Notification n) { return shut_down(now, std::move(n), false); }

FsmActions Fsm::reset(Clock::time_point now, Notification n) { return shut_down(now, std::move(n), true); }

FsmActions Fsm::shut_down(Clock::time_point now, Notification n, bool restart) {
  FsmActions out;
  running_ = false;  // no damped automatic restart while the connections are dropped
  std::string reason = (restart ? "reset: " : "stopped: ") + n.describe();
  std::vector<ConnId> ids;
  for (const auto& c : conns_) ids.push_back(c.id);
  for (auto id : ids) {
    const Conn* c = find(id);
    // A connection still being set up has nobody to tell.
    std::optional<Notification> tell;
    if (c != nullptr && c->state != ConnState::Connecting) tell = n;
    drop(id, now, tell, reason, true, out);
  }
  go_idle(now, false, out);
  if (restart) {
    running_ = true;
    connect_backoff_.reset();
    idle_backoff_.reset();
    const auto after = idle_backoff_.next(rng_);
    arm(TimerId{TimerKind::IdleHold, 0}, after, now, out);
    reason += ", connecting again in " + std::to_string(after.count()) + " ms (IdleHold)";
  }
  reason_ = reason;
  finish(now, out);
  return out;
}

void Fsm::go_idle(Clock::time_point now, bool automatic_restart, FsmActions& out) {
  idle_ = true;
  cancel(TimerId{TimerKind::ConnectRetry, 0}, out);
  while (!conns_.empty()) {
    const ConnId id = conns_.front().id;
    cancel_conn_timers(id, out);
    out.push_back(Close{id});
    conns_.erase(conns_.begin());
  }
  negotiated_.reset();
  if (automatic_restart && running_) {
    // RFC 4271 8.1.1 DampPeerOscillations: each consecutive failure waits longer.
    arm(TimerId{TimerKind::IdleHold, 0}, idle_backoff_.next(rng_), now, out);
  } else {
    cancel(TimerId{TimerKind::IdleHold, 0}, out);
  }
}

// ---- TCP events ----

FsmActions Fsm::connected(ConnId id, Clock::time_point now, const IpAddress& local,
                          const IpAddress& remote, bool inbound) {
  FsmActions out;
  auto refuse = [&](std::string why, std::optional<Notification> n) {
    if (n) out.push_back(SendMessage{id, std::move(*n)});
    out.push_back(Close{id});
    out.push_back(Log{LogLevel::info, std::move(why)});
  };

  if (idle_ || !running_) {
    // RFC 4271 8.2.2 Idle: "refuses all incoming BGP connections".
    refuse("connection with " + remote.to_string() + " refused: session is Idle", std::nullopt);
    return out;
  }
  if (inbound && cfg_.mode == ConnectMode::Active) {
    refuse("connection from " + remote.to_string() + " refused: active mode", std::nullopt);
    return out;
  }
  if (!inbound) {
    const Conn* c = find(id);
    if (c == nullptr || c->state != ConnState::Connecting) {
      out.push_back(Close{id});  // an attempt we already gave up on
      return out;
    }
    cancel(TimerId{TimerKind::ConnectRetry, 0}, out);
    connect_backoff_.reset();  // TCP works; later failures are damped by IdleHold instead
  }
  if (established_conn() != 0) {
    // RFC 4271 6.8: a connection colliding with an Established one is closed.
    refuse("connection from " + remote.to_string() + " closed: session already Established",
           notify(ErrorCode::Cease, CeaseSubcode::ConnectionCollisionResolution));
    return out;
  }
  if (find(id) == nullptr) {
    Conn fresh;
    fresh.id = id;
    fresh.inbound = true;
    conns_.push_back(fresh);
  }
  Conn& c = *find(id);
  c.state = ConnState::OpenSent;
  c.local = local;
  c.remote = remote;
  if (inbound) {
    // At most one connection per direction: a new inbound connection replaces an older one
    // (the neighbor restarted), and a pending outbound attempt is abandoned in favour of it.
    cancel(TimerId{TimerKind::ConnectRetry, 0}, out);
    std::vector<ConnId> replaced;
    for (const auto& o : conns_) {
      if (o.id != id && (o.inbound || o.state == ConnState::Connecting)) replaced.push_back(o.id);
    }
    for (auto old : replaced) {
      std::optional<Notification> n;
      if (find(old)->state != ConnState::Connecting) {
        n = notify(ErrorCode::Cease, CeaseSubcode::ConnectionCollisionResolution);
      }
      drop(old, now, n, "replaced by a new inbound connection", false, out);
    }
  }
  reason_ = std::string(inbound ? "accepted connection from " : "connected to ") +
            remote.to_string();
  send(id, local_open(), now, out);
  arm(TimerId{TimerKind::Hold, id}, kOpenHoldTime, now, out);
  finish(now, out);
  return out;
}

void Fsm::erase_conn(ConnId id) {
  auto it = std::find_if(conns_.begin(), conns_.end(), [&](const Conn& x) { return x.id == id; });
  if (it != conns_.end()) conns_.erase(it);
}

FsmActions Fsm::connect_failed(ConnId id, Clock::time_point now, std::string_view reason) {
  FsmActions out;
  const Conn* c = find(id);
  if (c == nullptr || c->state != ConnState::Connecting) return out;
  erase_conn(id);
  last_error_ = "connect failed: " + std::string(reason);
  reason_ = last_error_;
  // RFC 4271 8.2.2 Connect, TcpConnectionFails: restart ConnectRetry, go Active.
  if (!idle_ && conns_.empty()) {
    arm(TimerId{TimerKind::ConnectRetry, 0}, connect_backoff_.next(rng_), now, out);
  }
  finish(now, out);
  return out;
}

FsmActions Fsm::closed(ConnId id, Clock::time_point now, std::string_view reason) {
  FsmActions out;
  const Conn* c = find(id);
  if (c == nullptr) return out;
  if (c->state == ConnState::Connecting) return connect_failed(id, now, reason);
  // OpenSent: back to Active (8.2.2); OpenConfirm / Established: Idle.
  const bool to_idle = c->state != ConnState::OpenSent;
  drop(id, now, std::nullopt, "connection closed: " + std::string(reason), to_idle, out);
  finish(now, out);
  return out;
}

void Fsm::drop(ConnId id, Clock::time_point now, std::optional<Notification> n,
               std::string reason, bool to_idle, FsmActions& out) {
  auto it = std::find_if(conns_.begin(), conns_.end(), [&](const Conn& x) { return x.id == id; });
  if (it == conns_.end()) return;
  const Conn gone = *it;
  cancel_conn_timers(id, out);
  if (n) out.push_back(SendMessage{id, std::move(*n)});
  out.push_back(Close{id});
  conns_.erase(it);
  if (gone.peer_open) negotiated_.reset();
  if (gone.state == ConnState::Established) {
    out.push_back(SessionDown{reason});
    if (now - established_at_ >= cfg_.stable_time) {
      // A session that held for stable_time was healthy: start damping from scratch.
      idle_backoff_.reset();
      connect_backoff_.reset();
    }
  }
  last_error_ = reason;
  reason_ = reason;
  if (!conns_.empty()) return;  // the other connection carries on
  if (to_idle) {
    go_idle(now, true, out);
  } else if (cfg_.mode != ConnectMode::Passive && !idle_) {
    arm(TimerId{TimerKind::ConnectRetry, 0}, connect_backoff_.next(rng_), now, out);
  }
}

// ---- Messages ----

FsmActions Fsm::error(ConnId id, Clock::time_point now, Notification n, std::string_view reason) {
  FsmActions out;
  if (find(id) == nullptr) return out;
  out.push_back(Log{LogLevel::warning, "sending NOTIFICATION " + n.describe() + ": " +
                                           std::string(reason)});
  drop(id, now, std::move(n), std::string(reason), true, out);
  finish(now, out);
  return out;
}

FsmActions Fsm::message(ConnId id, const Message& msg, Clock::time_point now) {
  FsmActions out;
  Conn* c = find(id);
  if (c == nullptr || c->state == ConnState::Connecting) return out;

  if (const auto* n = std::get_if<Notification>(&msg)) {
    // RFC 4271 8.2.2: a NOTIFICATION in any state ends the connection, no answer.
    const std::string text = "received NOTIFICATION " + n->describe();
    out.push_back(Log{LogLevel::warning, text});
    drop(id, now, std::nullopt, text, true, out);
    finish(now, out);
    return out;
  }

  // RFC 6608 subcodes name the state where the unexpected message arrived.
  auto unexpected = [&](FsmSubcode sub) {
    const std::string text = "unexpected " + message_name(msg) + " in " +
                             std::string(to_string(derive()));
    out.push_back(Log{LogLevel::warning, text});
    drop(id, now, notify(ErrorCode::FiniteStateMachineError, sub), text, true, out);
  };

  switch (c->state) {
    case ConnState::Connecting:
      break;
    case ConnState::OpenSent:
      if (const auto* o = std::get_if<Open>(&msg)) {
        on_open(id, *o, now, out);
      } else {
        unexpected(FsmSubcode::UnexpectedInOpenSent);
      }
      break;
    case ConnState::OpenConfirm:
      if (std::holds_alternative<Keepalive>(msg)) {
        enter_established(id, now, out);
      } else {
        unexpected(FsmSubcode::UnexpectedInOpenConfirm);
      }
      break;
    case ConnState::Established:
      if (std::holds_alternative<Open>(msg)) {
        unexpected(FsmSubcode::UnexpectedInEstablished);
      } else {
        restart_hold(id, now, out);  // KEEPALIVE, UPDATE, ROUTE-REFRESH (RFC 4271 8.2.2)
      }
      break;
  }
  finish(now, out);
  return out;
}

void Fsm::on_open(ConnId id, const Open& open, Clock::time_point now, FsmActions& out) {
  OpenPolicy policy;
  policy.local_as = cfg_.local_as;
  policy.local_bgp_id = cfg_.router_id;
  policy.peer_as = cfg_.peer_as;
  policy.required_families = cfg_.require_families;
  policy.local_role = cfg_.role;
  policy.strict_role = cfg_.strict_role;
  auto bad = validate_open(open, policy);
  if (!bad && (open.hold_time == 1 || open.hold_time == 2)) {
    // RFC 4271 6.2: defensive; validate_open is expected to refuse these already.
    bad = notify(ErrorCode::OpenMessageError, OpenSubcode::UnacceptableHoldTime);
  }
  if (bad) {
    const std::string text = "OPEN refused, sending NOTIFICATION " + bad->describe();
    out.push_back(Log{LogLevel::warning, text});
    drop(id, now, std::move(*bad), text, true, out);
    return;
  }
  if (resolve_collision(id, open, now, out)) return;
  enter_open_confirm(*find(id), open, now, out);
}

bool Fsm::resolve_collision(ConnId id, const Open& open, Clock::time_point now,
                            FsmActions& out) {
  const Conn* other = nullptr;
  for (const auto& c : conns_) {
    if (c.id != id && c.state == ConnState::OpenConfirm) other = &c;
  }
  if (other == nullptr) return false;
  const Conn* self = find(id);
  // RFC 4271 6.8: keep the connection initiated by the speaker with the higher BGP
  // Identifier; RFC 6286 2.3: on equal identifiers the higher AS decides.
  const bool local_wins = std::make_tuple(cfg_.router_id, cfg_.local_as) >
                          std::make_tuple(open.bgp_id, open.effective_as());
  // The loser is the connection the losing side initiated: ours is the outbound one.
  const ConnId loser = (self->inbound == local_wins) ? id : other->id;
  const std::string text = "connection collision (local id " + std::to_string(cfg_.router_id) +
                           ", remote id " + std::to_string(open.bgp_id) + "): closing the " +
                           (find(loser)->inbound ? "inbound" : "outbound") + " connection";
  out.push_back(Log{LogLevel::info, text});
  drop(loser, now, notify(ErrorCode::Cease, CeaseSubcode::ConnectionCollisionResolution), text,
       false, out);
  return loser == id;
}

void Fsm::enter_open_confirm(Conn& c, const Open& open, Clock::time_point now,
                             FsmActions& out) {
  Negotiated n;
  // RFC 4271 4.2: the smaller of the two hold times; 0 disables hold and keepalives.
  n.hold_time = std::min(cfg_.hold_time, open.hold_time);
  if (n.hold_time != 0) {
    const std::uint16_t third = static_cast<std::uint16_t>(n.hold_time / 3);
    n.keepalive = cfg_.keepalive ? std::min(*cfg_.keepalive, third) : third;
    if (n.keepalive == 0) n.keepalive = 1;
  }
  n.peer_as = open.effective_as();
  n.peer_bgp_id = open.bgp_id;
  // RFC 4760 8: a neighbor without multiprotocol capabilities speaks IPv4 unicast only.
  std::vector<Family> theirs = open.caps.multiprotocol;
  if (theirs.empty()) theirs.push_back(kIpv4Unicast);
  for (const auto& f : cfg_.families) {
    if (std::find(theirs.begin(), theirs.end(), f) != theirs.end()) n.families.push_back(f);
  }
  n.route_refresh = cfg_.route_refresh && open.caps.route_refresh;
  n.enhanced_route_refresh = cfg_.route_refresh && open.caps.enhanced_route_refresh;
  n.codec.four_octet_as = open.caps.four_octet_as.has_value();
  n.codec.extended_message = cfg_.extended_message && open.caps.extended_message;
  n.codec.ibgp = !cfg_.is_ebgp(n.peer_as);
  n.peer_open = open;
  n.local_address = c.local;
  n.remote_address = c.remote;
  negotiated_ = std::move(n);

  c.peer_open = open;
  c.state = ConnState::OpenConfirm;
  reason_ = "received acceptable OPEN";
  const ConnId id = c.id;
  send(id, Keepalive{}, now, out);
  restart_hold(id, now, out);
  arm_keepalive(id, now, out);
}

void Fsm::enter_established(ConnId id, Clock::time_point now, FsmActions& out) {
  find(id)->state = ConnState::Established;
  established_at_ = now;
  reason_ = "received KEEPALIVE in OpenConfirm";
  restart_hold(id, now, out);
  out.push_back(SessionUp{id});
  // RFC 4271 6.8: any other connection now collides with an Established one.
  std::vector<ConnId> others;
  for (const auto& c : conns_) {
    if (c.id != id) others.push_back(c.id);
  }
  for (auto o : others) {
    const bool connecting = find(o)->state == ConnState::Connecting;
    std::optional<Notification> n;
    if (!connecting) n = notify(ErrorCode::Cease, CeaseSubcode::ConnectionCollisionResolution);
    drop(o, now, n, "connection collision: session Established on another connection", false,
         out);
  }
  reason_ = "received KEEPALIVE in OpenConfirm";
}

void Fsm::restart_hold(ConnId id, Clock::time_point now, FsmActions& out) {
  if (!negotiated_ || negotiated_->hold_time == 0) {
    cancel(TimerId{TimerKind::Hold, id}, out);
    return;
  }
  // The first arming (OpenConfirm) may shorten the 4-minute OpenSent timer: extend() re-arms
  // then; later restarts only move the deadline.
  extend(TimerId{TimerKind::Hold, id}, std::chrono::seconds(negotiated_->hold_time), now, out);
}

void Fsm::arm_keepalive(ConnId id, Clock::time_point now, FsmActions& out) {
  if (!negotiated_ || negotiated_->keepalive == 0) return;
  // RFC 4271 10: jitter the keepalive interval too.
  arm(TimerId{TimerKind::Keepalive, id},
      jittered(std::chrono::seconds(negotiated_->keepalive), rng_), now, out);
}

// ---- Timers ----

FsmActions Fsm::keepalive_early(Clock::time_point now) {
  FsmActions out;
  if (!negotiated_ || negotiated_->keepalive == 0) return out;
  const Clock::duration interval = std::chrono::seconds(negotiated_->keepalive);
  for (const auto& c : conns_) {
    if (c.state != ConnState::Established) continue;
    const auto it = timers_.find(TimerId{TimerKind::Keepalive, c.id});
    if (it == timers_.end() || it->second.fires - now > interval / 2) continue;
    if (now - it->second.since < std::chrono::seconds(1)) continue;  // RFC 4271 4.4
    send(c.id, Keepalive{}, now, out);
    arm_keepalive(c.id, now, out);
  }
  return out;
}

FsmActions Fsm::timer(TimerId t, Clock::time_point now) {
  FsmActions out;
  auto it = timers_.find(t);
  if (it == timers_.end() || now < it->second.fires) return out;  // cancelled or re-armed
  if (now < it->second.deadline) {
    // Extended since it was armed: wait for the rest.
    it->second.fires = it->second.deadline;
    out.push_back(ArmTimer{t, it->second.deadline - now});
    return out;
  }
  timers_.erase(it);

  switch (t.kind) {
    case TimerKind::ConnectRetry: {
      if (idle_) break;
      // RFC 4271 8.2.2 Connect/Active: drop a pending attempt, try again.
      std::vector<ConnId> pending;
      for (const auto& c : conns_) {
        if (c.state == ConnState::Connecting) pending.push_back(c.id);
      }
      for (auto p : pending) {
        out.push_back(Close{p});
        erase_conn(p);
      }
      reason_ = pending.empty() ? "ConnectRetry timer expired" : "connect timed out, retrying";
      if (conns_.empty()) begin_connect(now, out);
      break;
    }
    case TimerKind::IdleHold:
      if (!idle_ || !running_) break;
      idle_ = false;
      reason_ = "IdleHold timer expired: automatic start";
      if (cfg_.mode != ConnectMode::Passive) begin_connect(now, out);
      break;
    case TimerKind::Hold: {
      if (find(t.conn) == nullptr) break;
      const std::string text = "hold timer expired";
      out.push_back(Log{LogLevel::warning, text});
      drop(t.conn, now, Notification::make(ErrorCode::HoldTimerExpired, 0), text, true, out);
      break;
    }
    case TimerKind::Keepalive: {
      const Conn* c = find(t.conn);
      if (c == nullptr || c->state == ConnState::Connecting || c->state == ConnState::OpenSent) {
        break;
      }
      send(t.conn, Keepalive{}, now, out);
      arm_keepalive(t.conn, now, out);
      break;
    }
    case TimerKind::SendHold: {
      const Conn* c = find(t.conn);
      if (c == nullptr || !c->send_pending) break;
      const std::string text = "send hold timer expired: the neighbor has not read our data";
      out.push_back(Log{LogLevel::warning, text});
      // RFC 9687 4: best effort NOTIFICATION, then close.
      drop(t.conn, now, Notification{kSendHoldTimerExpiredCode, 0, {}}, text, true, out);
      break;
    }
  }
  finish(now, out);
  return out;
}

}  // namespace herald::bgp

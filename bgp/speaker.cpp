#include "bgp/speaker.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

namespace herald::bgp {

namespace asio = boost::asio;
using transport::Connection;
using transport::ConnectionHandlers;
using transport::ConnectParams;
using transport::Endpoint;
using transport::Listener;
using transport::SocketOptions;

struct Speaker::Slot {
  SpeakerPeerConfig cfg;
  std::unique_ptr<Peer> engine;  // Peer is not movable (its Fsm refers to its config)
  std::unordered_map<ConnId, std::shared_ptr<Connection>> conns;
  std::unordered_map<ConnId, bool> established_tcp;  // conn -> TCP is up (outbound: connect done)
  struct Timer {
    std::unique_ptr<asio::steady_timer> timer;
    std::uint64_t generation = 0;  // a wait whose generation is stale was re-armed or cancelled
  };
  std::unordered_map<TimerId, Timer, TimerIdHash> timers;
  std::size_t closing = 0;  // connections flushing after a Close action
  bfd::State bfd_state = bfd::State::Down;  // as last reported by the BFD runtime
  bool bfd_gated = false;  // engine held stopped until BFD is Up (wait_for_up)
  bool removing = false;
  bool disabled = false;  // disable_peer(): the engine stays stopped
  std::string remove_reason;

  SocketOptions socket_options() const {
    SocketOptions o;
    o.gtsm = cfg.gtsm;
    o.md5 = cfg.md5;
    return o;
  }
  std::string_view name() const { return cfg.bgp.name; }
};

namespace {

Clock::time_point now() { return Clock::now(); }

}  // namespace

void log_to_stderr(LogLevel level, std::string_view peer, std::string_view text) {
  std::string line = peer.empty() ? fmt::format("{}: {}\n", to_string(level), text)
                                  : fmt::format("{}: peer {}: {}\n", to_string(level), peer, text);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

std::size_t sessions_carrying(const std::vector<SpeakerPeerStatus>& peers, Family family) {
  return static_cast<std::size_t>(std::count_if(peers.begin(), peers.end(), [&](const SpeakerPeerStatus& p) {
    const auto& next_hop = family.afi == Afi::Ipv4 ? p.bgp.next_hop_v4 : p.bgp.next_hop_v6;
    return p.bgp.state == State::Established && next_hop.has_value() &&
           std::find(p.bgp.families.begin(), p.bgp.families.end(), family) != p.bgp.families.end();
  }));
}

Speaker::Speaker(asio::io_context& io, SpeakerSettings settings, std::vector<SpeakerPeerConfig> peers,
                 SpeakerObserver observer)
    : io_(io),
      settings_(std::move(settings)),
      observer_(std::move(observer)),
      seed_(settings_.rng_seed ? *settings_.rng_seed : std::random_device{}()),
      stop_timer_(io),
      settle_(io),
      refused_(settings_.refused),
      refused_timer_(io) {
  if (!observer_.log) observer_.log = log_to_stderr;
  for (auto& p : peers) {
    if (auto err = add_peer(std::move(p))) {
      // The configuration loader validates peers; reaching this is a programming error.
      std::fprintf(stderr, "herald: invalid peer configuration: %s\n", err->c_str());
      std::abort();
    }
  }
}

Speaker::~Speaker() {
  bfd_.reset();  // joins the BFD thread; its posted callbacks are dropped
  for (auto& l : listeners_) l->close();
  for (auto& s : slots_) {
    for (auto& [id, c] : s->conns) c->abort();
    s->timers.clear();  // destroying a steady_timer cancels its wait
  }
}

Speaker::SlotPtr Speaker::make_slot(SpeakerPeerConfig cfg) {
  if (cfg.bgp.local_as == 0) cfg.bgp.local_as = settings_.local_as;
  if (cfg.bgp.router_id == 0) cfg.bgp.router_id = settings_.router_id;
  auto slot = std::make_shared<Slot>();
  slot->cfg = std::move(cfg);
  slot->disabled = slot->cfg.disabled;
  // Distinct seeds per neighbor so that their retries do not move in lockstep.
  slot->engine = std::make_unique<Peer>(slot->cfg.bgp, seed_ + slots_.size() * 0x9E3779B97F4A7C15ull);
  return slot;
}

std::optional<std::string> Speaker::add_peer(SpeakerPeerConfig peer) {
  SpeakerPeerConfig probe = peer;
  if (probe.bgp.local_as == 0) probe.bgp.local_as = settings_.local_as;
  if (probe.bgp.router_id == 0) probe.bgp.router_id = settings_.router_id;
  if (auto err = probe.bgp.check()) return fmt::format("peer {}: {}", peer.bgp.name, *err);
  if (find(peer.bgp.name)) return fmt::format("peer {}: name already configured", peer.bgp.name);
  if (auto other = find(peer.bgp.peer_address)) {
    return fmt::format("peer {}: address {} already used by peer {}", peer.bgp.name,
                       peer.bgp.peer_address.to_string(), other->name());
  }
  if (peer.md5 && peer.md5->size() > 80) return fmt::format("peer {}: MD5 key longer than 80 octets", peer.bgp.name);
  auto slot = make_slot(std::move(peer));
  slots_.push_back(slot);
  if (started_ && !stopping_) {
    prepare_listeners(slot->cfg);
    start_slot(slot);
  }
  return std::nullopt;
}

void Speaker::remove_peer(std::string_view name, std::string_view reason) {
  auto slot = find(name);
  if (!slot || slot->removing) return;
  slot->removing = true;
  log(LogLevel::info, slot->name(), fmt::format("removing: {}", reason));
  if (bfd_ && slot->cfg.bfd) bfd_->remove(slot->cfg.bgp.name);
  apply(slot, slot->engine->stop(now(), reason));
  key_listeners(slot->cfg, false);
  forget_if_done(slot);
}

std::optional<std::string> Speaker::restart_peer(SpeakerPeerConfig peer) {
  remove_peer(peer.bgp.name, "configuration changed");
  // The old slot may still be flushing its Cease; it keeps the name until then, so the new one
  // is added under a fresh slot that lookups find first (removing slots are skipped).
  return add_peer(std::move(peer));
}

std::optional<std::string> Speaker::retune_peer_keeping_session(SpeakerPeerConfig peer) {
  auto slot = find(peer.bgp.name);
  if (!slot) return fmt::format("peer {}: not configured", peer.bgp.name);
  if (peer.bgp.local_as == 0) peer.bgp.local_as = settings_.local_as;
  if (peer.bgp.router_id == 0) peer.bgp.router_id = settings_.router_id;
  if (auto err = peer.bgp.check()) return fmt::format("peer {}: {}", peer.bgp.name, *err);
  if (peer.md5 != slot->cfg.md5 || peer.gtsm != slot->cfg.gtsm || peer.bfd != slot->cfg.bfd ||
      !same_session(slot->cfg.bgp, peer.bgp)) {
    return fmt::format("peer {}: the change needs a new session", peer.bgp.name);
  }
  slot->cfg = peer;
  apply(slot, slot->engine->reconfigure(std::move(peer.bgp), now()));
  return std::nullopt;
}

Speaker::SlotPtr Speaker::find(std::string_view name) const {
  for (const auto& s : slots_)
    if (!s->removing && s->name() == name) return s;
  return nullptr;
}

Speaker::SlotPtr Speaker::find(const IpAddress& address) const {
  for (const auto& s : slots_)
    if (!s->removing && s->cfg.bgp.peer_address == address) return s;
  return nullptr;
}

std::vector<std::string> Speaker::start() {
  std::vector<std::string> errors;
  if (started_) return errors;
  started_ = true;
  for (const auto& where : settings_.listen) {
    auto l = Listener::open(
        io_, where,
        [this](asio::ip::tcp::socket s, const Endpoint& remote) { on_accept(std::move(s), remote); },
        settings_.fault);
    if (!l) {
      log(LogLevel::error, "", l.error().what);
      errors.push_back(l.error().what);
      continue;
    }
    log(LogLevel::info, "", fmt::format("listening on {}", (*l)->local_endpoint().to_string()));
    listeners_.push_back(*l);
  }
  for (const auto& s : slots_) {
    for (auto& e : prepare_listeners(s->cfg)) errors.push_back(std::move(e));
  }
  for (const auto& l : listeners_) l->start();
  for (const auto& s : slots_) start_slot(s);
  return errors;
}

std::vector<std::string> Speaker::prepare_listeners(const SpeakerPeerConfig& peer) {
  std::vector<std::string> errors;
  if (peer.gtsm) {
    // A GTSM peer checks the TTL of our SYN-ACK too (RFC 5082 3), which the listener sends.
    for (const auto& l : listeners_) {
      if (auto e = l->set_ttl_255()) {
        log(LogLevel::error, peer.bgp.name, e->what);
        errors.push_back(e->what);
      }
    }
  }
  for (auto& e : key_listeners(peer, true)) errors.push_back(std::move(e));
  return errors;
}

std::vector<std::string> Speaker::key_listeners(const SpeakerPeerConfig& peer, bool install) {
  std::vector<std::string> errors;
  if (!peer.md5) return errors;
  for (const auto& l : listeners_) {
    const bool v4_listener = !l->v6_socket();
    const bool dual = l->v6_socket() && l->local_endpoint().address == IpAddress{Afi::Ipv6, {}};
    if (peer.bgp.peer_address.is_v4() ? !(v4_listener || dual) : v4_listener) continue;
    if (auto e = l->set_md5(peer.bgp.peer_address, install ? std::string_view(*peer.md5) : std::string_view())) {
      log(LogLevel::error, peer.bgp.name, e->what);
      errors.push_back(e->what);
    }
  }
  return errors;
}

void Speaker::start_slot(const SlotPtr& slot) {
  if (slot->cfg.bfd) add_bfd_session(slot);
  if (slot->disabled) {
    log(LogLevel::notice, slot->name(), "disabled by the operator: not starting the session");
    return;
  }
  start_engine(slot);
}

void Speaker::start_engine(const SlotPtr& slot) {
  if (slot->cfg.bfd) {
    if (slot->cfg.bfd->wait_for_up && slot->bfd_state != bfd::State::Up) {
      slot->bfd_gated = true;
      log(LogLevel::info, slot->name(), "BGP waits for BFD Up before starting");
      return;
    }
  }
  apply(slot, slot->engine->start(now()));
  if (auto mine = routes_for(slot->name()); !mine->empty()) apply(slot, slot->engine->set_routes_shared(mine, now()));
}

void Speaker::stop(std::string reason, std::function<void()> done) {
  if (stopping_) {
    if (done) asio::post(io_, std::move(done));
    return;
  }
  stopping_ = true;
  stop_done_ = std::move(done);
  for (auto& l : listeners_) l->close();
  listeners_.clear();
  log(LogLevel::info, "", fmt::format("stopping: {}", reason));
  for (const auto& s : slots_) apply(s, s->engine->stop(now(), reason));
  stop_timer_.expires_after(settings_.stop_limit);
  stop_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // completed in time, or the speaker is gone
    log(LogLevel::warning, "", "stop: connections still open after the time limit, dropping them");
    for (auto& s : slots_) {
      for (auto& [id, c] : s->conns) c->abort();
      s->conns.clear();
      s->closing = 0;
    }
    check_stopped();
  });
  check_stopped();
}

void Speaker::check_stopped() {
  if (!stopping_ || !stop_done_) return;
  for (const auto& s : slots_)
    if (!s->conns.empty() || s->closing > 0) return;
  for (const auto& s : slots_) s->timers.clear();
  stop_timer_.cancel();
  // The listeners are closed: what is still counted is logged now, not lost.
  refused_timer_.cancel();
  refused_timer_armed_ = false;
  for (const auto& line : refused_.drain(now())) log(LogLevel::warning, "", line);
  // After the Ceases: BFD AdminDown tells the neighbors this was no path failure (RFC 5882 3.2).
  if (bfd_) bfd_->stop();
  auto done = std::move(stop_done_);
  stop_done_ = nullptr;
  asio::post(io_, std::move(done));
}

void Speaker::set_routes(std::vector<Route> routes) {
  everyone_ = std::make_shared<const std::vector<Route>>(std::move(routes));
  per_peer_.clear();
  by_peer_ = false;
  if (!started_ || stopping_) return;
  for (const auto& s : slots_)
    if (!s->removing) apply(s, s->engine->set_routes_shared(everyone_, now()));
}

void Speaker::set_peer_routes(PeerRoutes routes) {
  for (const auto& [name, set] : routes) {
    if (!set) {
      std::fprintf(stderr, "bgp: broken invariant: null route set for peer %s\n", name.c_str());
      std::abort();
    }
  }
  per_peer_ = std::move(routes);
  everyone_ = std::make_shared<const std::vector<Route>>();
  by_peer_ = true;
  if (!started_ || stopping_) return;
  for (const auto& s : slots_)
    if (!s->removing) apply(s, s->engine->set_routes_shared(routes_for(s->name()), now()));
}

std::shared_ptr<const std::vector<Route>> Speaker::routes_for(std::string_view name) const {
  if (!by_peer_) return everyone_;
  static const auto kNone = std::make_shared<const std::vector<Route>>();
  auto it = per_peer_.find(name);
  return it == per_peer_.end() ? kNone : it->second;
}

std::optional<std::string> Speaker::disable_peer(std::string_view name, std::string_view reason) {
  auto slot = find(name);
  if (!slot) return fmt::format("peer {}: not configured", name);
  if (slot->disabled) return std::nullopt;
  slot->disabled = true;
  slot->bfd_gated = false;
  log(LogLevel::notice, slot->name(),
      fmt::format("disabled by the operator{}{}: sending Cease/Administrative Shutdown", reason.empty() ? "" : ": ",
                  reason));
  if (started_ && !stopping_) apply(slot, slot->engine->stop(now(), reason, CeaseSubcode::AdministrativeShutdown));
  return std::nullopt;
}

std::optional<std::string> Speaker::enable_peer(std::string_view name) {
  auto slot = find(name);
  if (!slot) return fmt::format("peer {}: not configured", name);
  if (!slot->disabled) return std::nullopt;
  slot->disabled = false;
  log(LogLevel::notice, slot->name(), "enabled by the operator: starting the session");
  if (started_ && !stopping_) start_engine(slot);
  return std::nullopt;
}

std::optional<std::string> Speaker::reset_peer(std::string_view name, std::string_view reason) {
  auto slot = find(name);
  if (!slot) return fmt::format("peer {}: not configured", name);
  if (slot->disabled) return fmt::format("peer {} is disabled: enable it instead", name);
  if (!started_ || stopping_) return fmt::format("peer {}: the speaker is not running", name);
  log(LogLevel::notice, slot->name(),
      fmt::format("reset by the operator{}{}: sending Cease/Administrative Reset", reason.empty() ? "" : ": ", reason));
  if (slot->bfd_gated) {  // starts when BFD is Up
    apply(slot, slot->engine->stop(now(), reason, CeaseSubcode::AdministrativeReset));
    return std::nullopt;
  }
  apply(slot, slot->engine->reset(now(), reason));
  if (auto mine = routes_for(slot->name()); !mine->empty()) apply(slot, slot->engine->set_routes_shared(mine, now()));
  return std::nullopt;
}

std::optional<std::vector<SentRoutes>> Speaker::adj_rib_out_as_sent(std::string_view name) const {
  auto slot = find(name);
  if (!slot) return std::nullopt;
  return slot->engine->adj_rib_out_as_sent();
}

std::vector<SpeakerPeerStatus> Speaker::status() const {
  std::vector<SpeakerPeerStatus> out;
  const auto t = now();
  for (const auto& s : slots_) {
    if (s->removing) continue;
    SpeakerPeerStatus st;
    st.bgp = s->engine->status(t);
    st.md5 = s->cfg.md5.has_value();
    st.gtsm = s->cfg.gtsm;
    st.open_connections = s->conns.size();
    if (bfd_ && s->cfg.bfd) st.bfd = bfd_->session(s->name());
    st.bfd_waiting = s->bfd_gated;
    st.disabled = s->disabled;
    for (const auto& [id, c] : s->conns) st.queued_bytes += c->queued_bytes();
    out.push_back(std::move(st));
  }
  return out;
}

bfd::DropCounters Speaker::bfd_dropped() const { return bfd_ ? bfd_->dropped() : bfd::DropCounters{}; }

void Speaker::ensure_bfd() {
  if (bfd_) return;
  bfd::RuntimeObserver o;
  o.log = [this](LogLevel level, std::string_view peer, std::string_view text) { log(level, peer, text); };
  o.state_change = [this](std::string_view name, const bfd::StateChange& c, const bfd::SessionStatus& st) {
    on_bfd_change(name, c, st);
  };
  bfd::RuntimeSettings rs = settings_.bfd;
  if (!rs.rng_seed) rs.rng_seed = seed_ ^ 0xBFDBFDBFDull;
  bfd_ = std::make_unique<bfd::Runtime>(io_, std::move(rs), std::move(o));
  for (const auto& e : bfd_->start()) log(LogLevel::error, "", e);
}

void Speaker::add_bfd_session(const SlotPtr& slot) {
  ensure_bfd();
  const auto& b = *slot->cfg.bfd;
  slot->bfd_state = bfd::State::Down;
  bfd_->add(bfd::SessionSpec{slot->cfg.bgp.name, slot->cfg.bgp.peer_address, slot->cfg.bgp.local_address, b.session,
                             b.port});
}

// RFC 5882 4.3 / RFC 9384: what a BFD state change means for the BGP session.
void Speaker::on_bfd_change(std::string_view name, const bfd::StateChange& change, const bfd::SessionStatus& status) {
  auto slot = find(name);
  if (!slot || !slot->cfg.bfd || stopping_) return;
  // AdminDown is only ever our own doing (remove, stop); the BGP side handles those itself.
  if (change.to == bfd::State::AdminDown) return;
  const bool was_up = slot->bfd_state == bfd::State::Up;
  slot->bfd_state = change.to;
  if (observer_.bfd_state_change) observer_.bfd_state_change(name, change);
  if (change.to == bfd::State::Up) {
    if (slot->bfd_gated && !slot->disabled) {
      slot->bfd_gated = false;
      log(LogLevel::info, slot->name(), "BFD is Up: starting BGP");
      apply(slot, slot->engine->start(now()));
      if (auto mine = routes_for(slot->name()); !mine->empty())
        apply(slot, slot->engine->set_routes_shared(mine, now()));
    }
    return;
  }
  if (!was_up || slot->disabled) return;
  // RFC 5882 3.2: a neighbor that took BFD down administratively reports no path failure.
  if (status.remote_state == bfd::State::AdminDown) {
    log(LogLevel::info, slot->name(), "BFD neighbor is AdminDown: the BGP session is left alone");
    return;
  }
  const std::string why = fmt::format("BFD down ({})", bfd::to_string(change.diag));
  if (slot->cfg.bfd->wait_for_up) {
    log(LogLevel::warning, slot->name(), fmt::format("{}: stopping BGP until BFD is Up again", why));
    slot->bfd_gated = true;
    apply(slot, slot->engine->stop(now(), why, CeaseSubcode::BfdDown));
  } else if (slot->engine->state() == State::Established) {
    // Reconnecting at once loses a race with the neighbor, which may still hold the session
    // (without BFD of its own, or detecting later): the idle hold, as an operator's reset.
    log(LogLevel::warning, slot->name(), fmt::format("{}: resetting the BGP session", why));
    apply(slot, slot->engine->reset(now(), why, CeaseSubcode::BfdDown));
  }
}

std::vector<Endpoint> Speaker::listening() const {
  std::vector<Endpoint> out;
  for (const auto& l : listeners_) out.push_back(l->local_endpoint());
  return out;
}

void Speaker::log(LogLevel level, std::string_view peer, std::string_view text) const {
  if (observer_.log) observer_.log(level, peer, text);
}

// ---- the translation between engine actions and I/O ----

void Speaker::apply(const SlotPtr& slot, Actions actions) {
  bool postponed = false;  // a pending wait was cancelled or moved: the kernel timer may be stale
  for (auto& action : actions) {
    std::visit(
        [&](auto& a) {
          using A = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<A, Connect>) {
            do_connect(slot, a);
          } else if constexpr (std::is_same_v<A, Send>) {
            auto it = slot->conns.find(a.conn);
            if (it != slot->conns.end()) it->second->send(std::move(a.bytes));
          } else if constexpr (std::is_same_v<A, Close>) {
            do_close(slot, a.conn);
          } else if constexpr (std::is_same_v<A, ArmTimer>) {
            postponed = arm_timer(slot, a) || postponed;
          } else if constexpr (std::is_same_v<A, CancelTimer>) {
            postponed = slot->timers.erase(a.timer) != 0 || postponed;  // destroying it cancels its wait
          } else if constexpr (std::is_same_v<A, StateChange>) {
            log(LogLevel::info, slot->name(),
                fmt::format("state {} -> {}{}{}", to_string(a.from), to_string(a.to), a.reason.empty() ? "" : ": ",
                            a.reason));
            if (observer_.state_change) observer_.state_change(slot->name(), a);
          } else if constexpr (std::is_same_v<A, SessionUp>) {
            if (observer_.session) observer_.session(slot->name(), true, "");
          } else if constexpr (std::is_same_v<A, SessionDown>) {
            if (observer_.session) observer_.session(slot->name(), false, a.reason);
          } else if constexpr (std::is_same_v<A, Log>) {
            log(a.level, slot->name(), a.text);
          }
        },
        action);
  }
  if (postponed) settle_.settle();
}

ConnectionHandlers Speaker::handlers_for(const SlotPtr& slot, ConnId conn, bool outbound) {
  std::weak_ptr<Slot> weak = slot;
  ConnectionHandlers h;
  if (outbound) {
    h.connected = [this, weak, conn] {
      auto s = weak.lock();
      if (!s) return;
      auto it = s->conns.find(conn);
      if (it == s->conns.end()) return;
      s->established_tcp[conn] = true;
      const auto local = it->second->local_endpoint();
      const auto remote = it->second->remote_endpoint();
      if (!local || !remote) return;
      log(LogLevel::debug, s->name(), fmt::format("connected {} -> {}", local->to_string(), remote->to_string()));
      apply(s, s->engine->on_connected(conn, now(), local->address, remote->address, false));
    };
  }
  h.bytes = [this, weak, conn](std::span<const std::uint8_t> bytes) {
    if (auto s = weak.lock()) apply(s, s->engine->on_bytes(conn, bytes, now()));
  };
  h.sent = [this, weak, conn](bool drained) {
    if (auto s = weak.lock()) apply(s, s->engine->on_sent(conn, now(), drained));
  };
  h.closed = [this, weak, conn](const std::string& reason) {
    auto s = weak.lock();
    if (!s) return;
    if (!s->conns.contains(conn)) {
      // An accepted socket that failed before the engine heard of it (socket options).
      log(LogLevel::warning, s->name(), fmt::format("inbound connection dropped: {}", reason));
      return;
    }
    const bool was_up = s->established_tcp[conn];
    s->conns.erase(conn);
    s->established_tcp.erase(conn);
    if (was_up) {
      apply(s, s->engine->on_closed(conn, now(), reason));
    } else {
      apply(s, s->engine->on_connect_failed(conn, now(), reason));
    }
    forget_if_done(s);
    check_stopped();
  };
  return h;
}

void Speaker::do_connect(const SlotPtr& slot, const Connect& c) {
  if (stopping_ || slot->removing) return;
  ConnectParams p{c.remote, c.port, c.local, slot->socket_options()};
  log(LogLevel::debug, slot->name(),
      fmt::format("connecting to {}{}", Endpoint{c.remote, c.port}.to_string(),
                  c.local ? fmt::format(" from {}", c.local->to_string()) : std::string()));
  slot->established_tcp[c.conn] = false;
  slot->conns[c.conn] = Connection::connect(io_, p, handlers_for(slot, c.conn, true), settings_.fault);
}

void Speaker::do_close(const SlotPtr& slot, ConnId conn) {
  auto it = slot->conns.find(conn);
  if (it == slot->conns.end()) return;
  auto c = std::move(it->second);
  slot->conns.erase(it);
  slot->established_tcp.erase(conn);
  ++slot->closing;
  std::weak_ptr<Slot> weak = slot;
  c->close([this, weak, conn] {
    auto s = weak.lock();
    if (!s) return;
    if (s->closing > 0) --s->closing;
    // The engine hears that its Close is done; it ignores connections it already dropped.
    apply(s, s->engine->on_closed(conn, now(), "closed locally"));
    forget_if_done(s);
    check_stopped();
  });
}

bool Speaker::arm_timer(const SlotPtr& slot, const ArmTimer& a) {
  auto& t = slot->timers[a.timer];
  if (!t.timer) t.timer = std::make_unique<asio::steady_timer>(io_);
  const std::uint64_t generation = ++t.generation;
  const bool replaced = t.timer->expires_after(a.after) != 0;
  std::weak_ptr<Slot> weak = slot;
  const TimerId id = a.timer;
  t.timer->async_wait([this, weak, id, generation](const boost::system::error_code& ec) {
    if (ec) return;
    auto s = weak.lock();
    if (!s) return;
    auto it = s->timers.find(id);
    if (it == s->timers.end() || it->second.generation != generation) return;
    s->timers.erase(it);
    const auto at = now();
    apply(s, s->engine->on_timer(id, at));
    // Keepalives due soon on the other sessions leave with this one: one wake-up for all.
    if (id.kind == TimerKind::Keepalive) {
      const auto others = slots_;  // apply() may change the list
      for (const auto& other : others)
        if (other != s && other->engine) apply(other, other->engine->keepalive_early(at));
    }
  });
  return replaced;
}

void Speaker::on_accept(asio::ip::tcp::socket socket, const Endpoint& remote) {
  auto slot = find(remote.address);
  if (!slot || stopping_) {
    refuse(std::move(socket), remote, stopping_ ? RefusalReason::ShuttingDown : RefusalReason::NotConfigured);
    return;
  }
  const ConnId conn = slot->engine->allocate_conn_id();
  auto c = Connection::adopt(std::move(socket), slot->socket_options(), handlers_for(slot, conn, false),
                             settings_.fault);
  const auto local = c->local_endpoint();
  if (!c->is_open() || !local) return;  // adopt failed: its closed handler is posted, nothing else to do
  slot->conns[conn] = c;
  slot->established_tcp[conn] = true;
  log(LogLevel::debug, slot->name(), fmt::format("accepted {} -> {}", remote.to_string(), local->to_string()));
  apply(slot, slot->engine->on_connected(conn, now(), local->address, remote.address, true));
}

// Anyone who reaches the port can connect: the log gets one line per source and period, the
// count goes to the metric (RefusedConnections).
void Speaker::refuse(asio::ip::tcp::socket socket, const Endpoint& remote, RefusalReason why) {
  boost::system::error_code ignored;
  socket.close(ignored);
  if (auto line = refused_.record(remote.address, remote.port, why, now())) log(LogLevel::warning, "", *line);
  arm_refused_timer();
}

void Speaker::arm_refused_timer() {
  if (refused_timer_armed_) return;
  const auto due = refused_.next_expiry();
  if (!due) return;
  refused_timer_armed_ = true;
  refused_timer_.expires_at(*due);
  refused_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled, or the speaker is gone
    refused_timer_armed_ = false;
    for (const auto& line : refused_.expire(now())) log(LogLevel::warning, "", line);
    arm_refused_timer();
  });
}

void Speaker::forget_if_done(const SlotPtr& slot) {
  if (!slot->removing || !slot->conns.empty() || slot->closing > 0) return;
  slot->timers.clear();
  std::erase(slots_, slot);
}

}  // namespace herald::bgp

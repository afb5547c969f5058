// herald's BGP speaker: one session engine (peer.hpp) per configured neighbor, bound to real
// sockets and timers on an Asio io_context. The engines decide everything (what to send, when
// to connect, close, or time out); the speaker only carries out their actions and feeds them
// socket and timer events with steady_clock::now(). Speaker::apply() is the single place where
// actions become I/O.
//
// Single-threaded: every call must come from the io_context's thread (or before it runs).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bgp/adj_rib_out.hpp"
#include "bgp/peer.hpp"
#include "bgp/peer_config.hpp"
#include "bgp/refused_connections.hpp"
#include "base/asio.hpp"
#include "bgp/transport_bfd.hpp"
#include "bgp/transport_connection.hpp"
#include "bgp/transport_endpoint.hpp"
#include "bgp/transport_listener.hpp"
#include "base/reactor_settle.hpp"
#include "bgp/transport_socket_options.hpp"

namespace herald::bgp {

// Settings shared by every session.
struct SpeakerSettings {
  std::uint32_t local_as = 0;
  std::uint32_t router_id = 0;  // host byte order
  // Passive endpoints (port 179 normally). Empty: no listener, outbound sessions only.
  std::vector<transport::Endpoint> listen;
  // stop() completes when every session has sent its Cease and closed, or after this long.
  std::chrono::milliseconds stop_limit{std::chrono::seconds(3)};
  // Seeds the engines' jitter; nullopt: from std::random_device.
  std::optional<std::uint64_t> rng_seed;
  transport::FaultInjector fault;  // tests only: injected kernel failures
  // The BFD runtime, started only when some neighbor has BFD.
  bfd::RuntimeSettings bfd;
  // How refused inbound connections are logged: one line per source and period.
  RefusedConnections::Settings refused;
};

// Single-hop BFD (RFC 5880, RFC 5881) guarding one BGP session, as RFC 5882 4.3 and RFC 9384
// describe: BFD leaving Up resets the session with Cease/BFD Down (6/10).
struct SpeakerBfdConfig {
  bfd::SessionConfig session;
  // true: BGP runs only while BFD is Up (not started before it is, stopped when it goes Down);
  // false: BFD Down resets an Established session, which connects again after the idle-hold
  // time (Peer::reset), as an operator's reset does.
  bool wait_for_up = false;
  std::uint16_t port = bfd::kControlPort;  // the neighbor's; tests only
  bool operator==(const SpeakerBfdConfig&) const = default;
};

// One neighbor: the engine's configuration plus what only the socket layer knows.
struct SpeakerPeerConfig {
  PeerConfig bgp;  // local_as / router_id of 0 are filled from SpeakerSettings
  std::optional<std::string> md5;  // RFC 2385 key
  bool gtsm = false;               // RFC 5082, directly connected neighbors (TTL 255)
  std::optional<SpeakerBfdConfig> bfd;
  // Starts disabled (an operator's "heraldctl peer disable", persisted): no session until
  // enable_peer(). Only read when the neighbor is added; reloads keep the current setting.
  bool disabled = false;
};

// Where speaker events go. Every callback is optional; `peer` is the neighbor's name, empty for
// speaker-wide events (listener, refused connections). One call per event.
struct SpeakerObserver {
  std::function<void(LogLevel level, std::string_view peer, std::string_view text)> log;
  std::function<void(std::string_view peer, const StateChange& change)> state_change;
  std::function<void(std::string_view peer, bool up, std::string_view reason)> session;
  // The neighbor's BFD session changed state (the BFD runtime logs it itself).
  std::function<void(std::string_view peer, const bfd::StateChange& change)> bfd_state_change;
};

// Writes "peer r1: text" lines to stderr; the default log sink.
void log_to_stderr(LogLevel level, std::string_view peer, std::string_view text);

// Status of one neighbor: the engine's view plus transport facts.
struct SpeakerPeerStatus {
  PeerStatus bgp;
  bool md5 = false;
  bool gtsm = false;
  std::size_t open_connections = 0;
  std::size_t queued_bytes = 0;  // written by the engine, not yet taken by the kernel
  std::optional<bfd::SessionSnapshot> bfd;  // configured with BFD and the session exists
  bool bfd_waiting = false;  // BGP held back until BFD is Up (wait_for_up)
  bool disabled = false;     // held Idle by disable_peer()
};

// Established sessions that negotiated `family` (RFC 4760) and have a next hop of that family:
// the neighbors a route of that family is sent to. A session without the family, or without a
// next hop for it (an IPv6 route on an IPv4 session with no next-hop-v6), does not carry it.
std::size_t sessions_carrying(const std::vector<SpeakerPeerStatus>& peers, Family family);

class Speaker {
 public:
  // Peers must have distinct names and addresses and pass PeerConfig::check() (after local AS
  // and router id are filled in); violations abort (the config loader checks them first).
  Speaker(boost::asio::io_context& io, SpeakerSettings settings, std::vector<SpeakerPeerConfig> peers,
          SpeakerObserver observer = {});
  Speaker(const Speaker&) = delete;
  Speaker& operator=(const Speaker&) = delete;
  // Drops every connection at once (no Cease): call stop() first for a clean end.
  ~Speaker();

  // Opens the listeners (with the peers' MD5 keys) and starts every engine. Returns the errors
  // met (listener bind, MD5 keys); the sessions that can run, run anyway.
  std::vector<std::string> start();
  // Sends Cease/Administrative Shutdown with `reason` (RFC 9003) on every session, closes the
  // listeners, and calls `done` once every connection is closed or stop_limit has passed.
  // The speaker does nothing afterwards until destroyed.
  void stop(std::string reason, std::function<void()> done);

  // The complete set of routes every neighbor should hold; each announces the families it
  // negotiated and sends only the difference from what it announced before. An empty set
  // withdraws everything.
  void set_routes(std::vector<Route> routes);
  // Each neighbor's own set (the service policy's per-peer output): a neighbor absent from
  // `routes` holds nothing (everything it was sent is withdrawn). Each neighbor sends only the
  // difference from what it announced before, so moving a route from one neighbor to another
  // is a withdrawal on one and an announcement on the other, no session reset.
  void set_peer_routes(PeerRoutes routes);
  // The set given to every neighbor by set_routes(std::vector); empty after set_peer_routes().
  const std::vector<Route>& routes() const { return *everyone_; }
  // The set neighbor `name` is to hold now (empty for unknown names).
  const std::vector<Route>& routes_of(std::string_view name) const { return *routes_for(name); }

  // Reload support. add_peer starts the neighbor at once when the speaker runs; a name or
  // address already present is an error value. remove_peer sends Cease with `reason` and forgets
  // the neighbor once its connections are closed; unknown names are ignored. restart_peer is
  // remove + add (the session restarts).
  std::optional<std::string> add_peer(SpeakerPeerConfig peer);
  void remove_peer(std::string_view name, std::string_view reason);
  std::optional<std::string> restart_peer(SpeakerPeerConfig peer);
  // Reload of a neighbor whose session can stay: same MD5 key, GTSM and BFD settings, and
  // same_session() on the BGP side (only description, mode, retry bounds, max-prefix or next
  // hops differ). Applied in place by Peer::reconfigure, without a reset. An error value (and
  // nothing changed) when the neighbor is unknown or the change needs a new session.
  // The daemon decides with conf::peer_needs_new_session (conf/session_params.cpp, the one
  // table of peer keys); this check is the speaker's guard of Peer::reconfigure's contract.
  std::optional<std::string> retune_peer_keeping_session(SpeakerPeerConfig peer);

  // An operator's control of one neighbor; an error value (nothing done) for an unknown name.
  // disable_peer: NOTIFICATION Cease/Administrative Shutdown (RFC 4486 6/2) carrying `reason`
  // (RFC 9003 shutdown communication), then Idle, inbound connections refused, until
  // enable_peer(), which starts it as at start-up (after BFD, if it waits for it). Both are
  // no-ops when already so. reset_peer: Cease/Administrative Reset (6/4) with `reason`, then
  // connects again after the idle-hold time (Fsm::reset); an error for a disabled neighbor.
  std::optional<std::string> disable_peer(std::string_view name, std::string_view reason);
  std::optional<std::string> enable_peer(std::string_view name);
  std::optional<std::string> reset_peer(std::string_view name, std::string_view reason);
  // What a neighbor was sent (Peer::adj_rib_out_as_sent); nullopt for an unknown name.
  std::optional<std::vector<SentRoutes>> adj_rib_out_as_sent(std::string_view name) const;

  std::vector<SpeakerPeerStatus> status() const;
  // Received BFD packets dropped, by reason (all zero without BFD).
  bfd::DropCounters bfd_dropped() const;
  // Inbound connections refused since start, by reason.
  std::uint64_t refused_connections(RefusalReason r) const { return refused_.total(r); }
  // The listeners' bound endpoints (useful with port 0).
  std::vector<transport::Endpoint> listening() const;

 private:
  struct Slot;
  using SlotPtr = std::shared_ptr<Slot>;

  SlotPtr make_slot(SpeakerPeerConfig cfg);
  void start_slot(const SlotPtr& slot);
  // Starts the engine (or holds it until BFD is Up, when it waits for BFD) and gives it the routes.
  void start_engine(const SlotPtr& slot);
  // The translation of engine actions into I/O: the only place that touches sockets and timers
  // on an engine's behalf.
  void apply(const SlotPtr& slot, Actions actions);
  void do_connect(const SlotPtr& slot, const Connect& c);
  void do_close(const SlotPtr& slot, ConnId conn);
  // Returns true when a pending wait of that timer was replaced.
  bool arm_timer(const SlotPtr& slot, const ArmTimer& a);
  transport::ConnectionHandlers handlers_for(const SlotPtr& slot, ConnId conn, bool outbound);
  void on_accept(boost::asio::ip::tcp::socket socket, const transport::Endpoint& remote);
  void refuse(boost::asio::ip::tcp::socket socket, const transport::Endpoint& remote, RefusalReason why);
  void arm_refused_timer();
  // GTSM TTL and MD5 key of one peer on every listener; returns the errors (also logged).
  std::vector<std::string> prepare_listeners(const SpeakerPeerConfig& peer);
  std::vector<std::string> key_listeners(const SpeakerPeerConfig& peer, bool install);
  void forget_if_done(const SlotPtr& slot);
  // BFD: starts the runtime on first use; adds a neighbor's session.
  void ensure_bfd();
  void add_bfd_session(const SlotPtr& slot);
  void on_bfd_change(std::string_view name, const bfd::StateChange& change, const bfd::SessionStatus& status);
  void check_stopped();
  void log(LogLevel level, std::string_view peer, std::string_view text) const;
  SlotPtr find(std::string_view name) const;
  std::shared_ptr<const std::vector<Route>> routes_for(std::string_view name) const;
  SlotPtr find(const IpAddress& address) const;

  boost::asio::io_context& io_;
  SpeakerSettings settings_;
  SpeakerObserver observer_;
  std::vector<SlotPtr> slots_;
  std::vector<std::shared_ptr<transport::Listener>> listeners_;
  // The sets the engines hold (a neighbor keeps its own to announce it again after a reset):
  // per_peer_ by name after set_peer_routes(), else everyone_ for every neighbor.
  PeerRoutes per_peer_;
  std::shared_ptr<const std::vector<Route>> everyone_ = std::make_shared<const std::vector<Route>>();
  bool by_peer_ = false;
  std::uint64_t seed_;
  bool started_ = false;
  bool stopping_ = false;
  std::function<void()> stop_done_;
  boost::asio::steady_timer stop_timer_;
  ReactorSettle settle_;  // re-arms the kernel timer after waits were cancelled or postponed
  RefusedConnections refused_;
  boost::asio::steady_timer refused_timer_;  // armed while refusals are counted, not yet logged
  bool refused_timer_armed_ = false;
  std::unique_ptr<bfd::Runtime> bfd_;  // declared last: stopped and destroyed first
};

}  // namespace herald::bgp

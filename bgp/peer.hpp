// One BGP neighbor as a pure engine: the RFC 4271 FSM (fsm.hpp), the wire codec, the routes we
// want the neighbor to hold and what it has been told (adj_rib_out.hpp). No socket, no clock,
// no Asio: the transport feeds events with the current time and carries out the returned
// actions in order (connect, send bytes, close, arm/cancel timers, log).
//
// Received routes are not stored (herald only announces); only counted, see PeerStatus.
// Log and StateChange texts do not repeat the peer's name: the transport prefixes it
// (config().name) when it writes the line.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "bgp/adj_rib_out.hpp"
#include "bgp/codec.hpp"
#include "bgp/fsm.hpp"
#include "bgp/peer_config.hpp"
#include "bgp/prefix_set.hpp"
#include "bgp/route_checks.hpp"
#include "bgp/types.hpp"

namespace herald::bgp {

// Write these bytes (one or more whole BGP messages) on `conn`, after anything queued before.
struct Send {
  ConnId conn = 0;
  Bytes bytes;
};
// Everything a Peer asks of its transport. Carry them out in order.
// Connect, Close, ArmTimer, CancelTimer, StateChange, SessionUp, SessionDown, Log: see fsm.hpp.
using Action = std::variant<Connect, Send, Close, ArmTimer, CancelTimer, StateChange, SessionUp,
                            SessionDown, Log>;
using Actions = std::vector<Action>;

// Messages by type: index = MessageType value (1..5); index 0 unused.
using MessageCounters = std::array<std::uint64_t, 6>;

// A point-in-time view for status output.
struct PeerStatus {
  std::string name;
  State state = State::Idle;
  Clock::time_point since{};                // when `state` was entered
  std::optional<Clock::duration> uptime;    // Established only
  std::string last_error;                   // why the last session ended / failed
  std::optional<std::uint16_t> hold_time;   // negotiated, seconds
  std::optional<std::uint16_t> keepalive;   // negotiated, seconds
  std::optional<std::uint32_t> peer_as;
  std::optional<std::uint32_t> peer_bgp_id;
  std::vector<Family> families;             // negotiated
  std::map<Family, std::size_t> announced;  // prefixes in the Adj-RIB-Out
  // Distinct prefixes the neighbor currently announces (ReceivedPrefixes: exact for IPv4; IPv6
  // prefixes are 64-bit fingerprints, so two of them may, very rarely, count as one).
  std::map<Family, std::size_t> received;
  MessageCounters sent{};
  MessageCounters received_messages{};
  std::map<std::pair<std::uint8_t, std::uint8_t>, std::uint64_t> notifications_sent;
  std::map<std::pair<std::uint8_t, std::uint8_t>, std::uint64_t> notifications_received;
  std::optional<IpAddress> next_hop_v4;  // in use for this session
  std::optional<IpAddress> next_hop_v6;
  std::optional<IpAddress> next_hop_v6_link_local;
};

// One attribute set of the Adj-RIB-Out as this session puts it on the wire, with its prefixes.
// `attributes` is what the neighbor decodes from the UPDATE the encoder builds for these routes
// (the announcement's own code path: the session's wire attributes, next hops and codec
// options): ORIGIN, AS_PATH as sent (with AS4_PATH on a 2-octet-AS session), NEXT_HOP or
// MP_REACH_NLRI's next hops (its nlri left empty), MED, LOCAL_PREF (iBGP), communities, large
// communities, OTC.
struct SentRoutes {
  Family family;
  PathAttributes attributes;
  std::vector<Prefix> prefixes;  // sorted
};

// The path attributes sent, under `config`, to a neighbor in AS `peer_as` for a route with
// attributes `a`: our AS first on eBGP (RFC 4271 5.1.2), LOCAL_PREF on iBGP only (5.1.5), OTC on
// egress (RFC 9234 5). NEXT_HOP is not among them: it is the session's (Peer::next_hop).
PathAttributes egress_attributes(const RouteAttributes& a, const PeerConfig& config, std::uint32_t peer_as);

class Peer {
 public:
  // `config` must pass config.check() (aborts otherwise). rng_seed drives jitter: seed it from
  // std::random_device in the daemon, with a constant in tests.
  Peer(PeerConfig config, std::uint64_t rng_seed);
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // ---- Events ----
  // ManualStart: leave Idle, connect and/or wait for the neighbor per config.mode.
  Actions start(Clock::time_point now);
  // ManualStop: NOTIFICATION Cease carrying `reason` (RFC 9003 shutdown communication), close,
  // stay Idle until start(). `subcode`: AdministrativeShutdown (6/2) for an operator or a failed
  // health check, PeerDeconfigured (6/3) when the neighbor is removed from the configuration,
  // AdministrativeReset (6/4) before a restart with a changed configuration (RFC 4486).
  Actions stop(Clock::time_point now, std::string_view reason,
               CeaseSubcode subcode = CeaseSubcode::AdministrativeShutdown);
  // A reset: Cease carrying `reason` as stop() does, close, and connect again after the
  // idle-hold time (Fsm::reset says why not at once). `subcode`: AdministrativeReset (6/4) for
  // an operator's reset, BfdDown (6/10) when BFD saw the path fail (RFC 9384): the neighbor may
  // still hold the old session then too.
  Actions reset(Clock::time_point now, std::string_view reason,
                CeaseSubcode subcode = CeaseSubcode::AdministrativeReset);
  // An id for an accepted inbound socket, to pass to on_connected(..., inbound = true).
  ConnId allocate_conn_id();
  // TCP is up (outbound: the conn of a Connect action; inbound: from allocate_conn_id()).
  // The engine may answer with Close for connections it does not want (Idle, passive mode...).
  Actions on_connected(ConnId conn, Clock::time_point now, const IpAddress& local,
                       const IpAddress& remote, bool inbound);
  Actions on_connect_failed(ConnId conn, Clock::time_point now, std::string_view reason);
  // Bytes read from `conn`, in order. Any split of the stream is fine.
  Actions on_bytes(ConnId conn, std::span<const std::uint8_t> bytes, Clock::time_point now);
  // The transport saw the connection end (EOF, reset, or after a Close action).
  Actions on_closed(ConnId conn, Clock::time_point now, std::string_view reason);
  // Some queued bytes of `conn` were written; `drained` when none remain. The transport MUST
  // call this after every completed write: the RFC 9687 send-hold timer armed with the first
  // Send closes the session (code 8) when no on_sent(..., true) arrives in time.
  Actions on_sent(ConnId conn, Clock::time_point now, bool drained);
  // A timer set by ArmTimer went off. Early or cancelled expiries are ignored (or re-armed for
  // the rest of an extended deadline), so races between cancel and expiry are harmless.
  Actions on_timer(TimerId timer, Clock::time_point now);
  // Another neighbor's keepalive timer went off: send this one's keepalive along when it is due
  // soon (Fsm::keepalive_early), so the speaker wakes once for all of them.
  Actions keepalive_early(Clock::time_point now);

  // The complete set of routes this neighbor should hold. The engine diffs it against the
  // Adj-RIB-Out and sends only the changes (when Established; otherwise it is sent in full when
  // the session comes up). An EMPTY set means "announce nothing": everything announced so far
  // is withdrawn. Routes of families not negotiated with the neighbor are kept but not sent.
  Actions set_routes(std::vector<Route> desired, Clock::time_point now);
  // The same with a set shared with other neighbors (the speaker gives every engine one copy).
  // Never null.
  Actions set_routes_shared(std::shared_ptr<const std::vector<Route>> desired, Clock::time_point now);

  // A reload changed this neighbor's configuration only in fields that need no new session
  // (same_session() is true): description, mode, connect-retry and idle-hold bounds, max-prefix,
  // next hops. Takes them now, without a reset: routes of a family whose next hop changed are
  // announced again with the new one; a limit now below what the neighbor sends ends the
  // session as a limit passed by an UPDATE would (RFC 4486 Cease 1). `config` must pass
  // check() and satisfy same_session() with the current one (aborts otherwise).
  Actions reconfigure(PeerConfig config, Clock::time_point now);

  // ---- Queries ----
  PeerStatus status(Clock::time_point now) const;
  State state() const { return fsm_.state(); }
  const PeerConfig& config() const { return config_; }
  const std::vector<Route>& desired() const { return *desired_; }
  const AdjRibOut& adj_rib_out() const { return rib_out_; }
  // The Adj-RIB-Out as sent on the Established session, by family then attribute set; empty
  // when the session is not Established (the Adj-RIB-Out goes with the session).
  std::vector<SentRoutes> adj_rib_out_as_sent() const;

 private:
  struct ConnIo {
    Framer framer{kMaxMessageSize};  // raised after the OPENs when RFC 8654 was negotiated
  };
  void absorb(FsmActions&& in, Clock::time_point now, Actions& out);
  void send_message(ConnId conn, const Message& m, Actions& out);
  void send_bytes(ConnId conn, Bytes b, MessageType type, Clock::time_point now, Actions& out);
  void handle_update(ConnId conn, const Update& u, ErrorAction action, Clock::time_point now,
                     Actions& out);
  // The session as route_checks.hpp sees it (Established only).
  SessionFacts session_facts() const;
  void handle_route_refresh(ConnId conn, const RouteRefresh& rr, Clock::time_point now,
                            Actions& out);
  void on_session_up(ConnId conn, Clock::time_point now, Actions& out);
  void on_session_down();
  // Sends the difference between desired_ and the Adj-RIB-Out on the Established `conn`.
  void sync_routes(ConnId conn, Clock::time_point now, Actions& out);
  // Every route of family `f` in the Adj-RIB-Out, encoded and sent again (ROUTE-REFRESH, a
  // changed next hop).
  void resend_family(ConnId conn, Family f, Clock::time_point now, Actions& out);
  // RFC 4486: true (and the session ended with Cease 1) when a configured limit is passed.
  bool max_prefix_passed(ConnId conn, std::optional<Family> announced, Clock::time_point now, Actions& out);
  PathAttributes wire_attributes(const RouteAttributes& a) const;  // egress_attributes()
  std::optional<IpAddress> next_hop(Family f) const;
  std::optional<IpAddress> link_local_next_hop() const;
  void log(LogLevel level, std::string text, Actions& out) const;

  PeerConfig config_;
  Fsm fsm_;
  std::unordered_map<ConnId, ConnIo> io_;
  std::shared_ptr<const std::vector<Route>> desired_ = std::make_shared<const std::vector<Route>>();
  AdjRibOut rib_out_;
  std::map<Family, ReceivedPrefixes> received_;  // only to count them
  MessageCounters sent_{};
  MessageCounters received_messages_{};
  std::map<std::pair<std::uint8_t, std::uint8_t>, std::uint64_t> notif_sent_;
  std::map<std::pair<std::uint8_t, std::uint8_t>, std::uint64_t> notif_received_;
};

}  // namespace herald::bgp

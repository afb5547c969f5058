// Configuration of one BGP neighbor, as pure data. The config loader fills it; Peer and Fsm
// read it. check() refuses values the RFCs forbid before any session starts.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bgp/message.hpp"
#include "bgp/types.hpp"

namespace herald::bgp {

// Who opens the TCP connection (RFC 4271 8.1.1 PassiveTcpEstablishment).
enum class ConnectMode : std::uint8_t {
  Active,   // only connect out; inbound connections are refused
  Passive,  // only accept inbound connections
  Both,     // connect out and accept; RFC 4271 6.8 collision detection picks one
};

// Prefix limits on what the neighbor sends (RFC 4486 Cease 1 when exceeded).
struct MaxPrefix {
  std::optional<std::uint32_t> ipv4;
  std::optional<std::uint32_t> ipv6;
  std::optional<std::uint32_t> total;
  bool operator==(const MaxPrefix&) const = default;
};

struct PeerConfig {
  std::string name;         // appears in every log line of this session
  std::string description;  // free text for status output
  IpAddress peer_address;
  std::uint16_t port = 179;
  std::optional<std::uint32_t> peer_as;  // nullopt: accept any AS (the OPEN decides)
  std::uint32_t local_as = 0;
  std::uint32_t router_id = 0;               // BGP identifier, host byte order, nonzero
  std::optional<IpAddress> local_address;    // source address of outbound connections
  ConnectMode mode = ConnectMode::Both;

  // RFC 4271 4.2 / 10: 0 means "no keepalives, no hold timer"; 1 and 2 are refused by check().
  std::uint16_t hold_time = 90;
  // Seconds between KEEPALIVEs; nullopt: one third of the negotiated hold time.
  std::optional<std::uint16_t> keepalive;

  // ConnectRetry (RFC 4271 10 suggests 120 s; herald starts faster and backs off):
  // first retry after connect_retry, doubling up to connect_retry_max, each jittered to 75-100%.
  std::chrono::milliseconds connect_retry{std::chrono::seconds(2)};
  std::chrono::milliseconds connect_retry_max{std::chrono::seconds(120)};
  // IdleHold (RFC 4271 8.1.1 DampPeerOscillations): after a session error the FSM stays Idle
  // idle_hold, doubling per consecutive failure up to idle_hold_max, jittered.
  std::chrono::milliseconds idle_hold{std::chrono::seconds(1)};
  std::chrono::milliseconds idle_hold_max{std::chrono::seconds(300)};
  // A session Established at least this long counts as stable: both backoffs restart from base.
  std::chrono::milliseconds stable_time{std::chrono::seconds(60)};
  // RFC 9687 SendHoldTimer: if queued data makes no progress for this long, close with code 8.
  // nullopt: max(8 minutes, 2 x negotiated hold time), the RFC's suggestion; zero disables it.
  std::optional<std::chrono::milliseconds> send_hold;

  std::vector<Family> families{kIpv4Unicast, kIpv6Unicast};  // advertised (RFC 4760)
  std::vector<Family> require_families;  // peer must advertise these, else 2/7 (RFC 5492)

  // Next hops put into our UPDATEs. Default: the session's local address of that family.
  std::optional<IpAddress> next_hop_v4;
  std::optional<IpAddress> next_hop_v6;
  // IPv6 link-local next hop sent with the global one (RFC 2545 32-octet form).
  std::optional<IpAddress> next_hop_v6_link_local;

  MaxPrefix max_prefix;
  std::optional<Role> role;  // RFC 9234 role capability
  bool strict_role = false;  // RFC 9234 strict mode: the peer must send a role
  bool extended_message = true;  // RFC 8654 capability advertised
  bool route_refresh = true;     // RFC 2918 + RFC 7313 capabilities advertised
  // herald never advertises graceful restart (RFC 4724): a withdrawn anycast route must go away
  // at once, not linger in a helper's stale table.

  // Error text when the configuration cannot work (hold time 1 or 2, keepalive > hold,
  // router id 0, no families, ...); nullopt when it is acceptable.
  std::optional<std::string> check() const;
  bool is_ebgp(std::uint32_t remote_as) const { return remote_as != local_as; }
  bool operator==(const PeerConfig&) const = default;
};

// True when `b` can replace `a` on a running session: they differ at most in what herald logs
// (description), does on the next connection (mode, connect-retry and idle-hold bounds, stable
// time), checks on received routes (max-prefix) or puts into its next UPDATEs (next hops).
// Everything negotiated in OPEN or fixed for the session needs a new one.
bool same_session(const PeerConfig& a, const PeerConfig& b);

}  // namespace herald::bgp

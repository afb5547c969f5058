#include "bgp/peer_config.hpp"

#include <algorithm>

namespace herald::bgp {

std::optional<std::string> PeerConfig::check() const {
  if (hold_time == 1 || hold_time == 2) {
    // RFC 4271 4.2: the hold time MUST be zero or at least three seconds.
    return "hold time must be 0 or at least 3 seconds";
  }
  if (keepalive && hold_time != 0 && *keepalive * 3 > hold_time) {
    return "keepalive must be at most a third of the hold time";
  }
  if (keepalive && *keepalive == 0 && hold_time != 0) return "keepalive must be positive";
  if (router_id == 0) return "router id must not be 0 (RFC 6286)";
  if (local_as == 0) return "local AS must not be 0 (RFC 7607)";
  if (peer_as && *peer_as == 0) return "peer AS must not be 0 (RFC 7607)";
  if (families.empty()) return "at least one address family is needed";
  for (const auto& f : require_families) {
    if (std::find(families.begin(), families.end(), f) == families.end()) {
      return "required family " + to_string(f) + " is not advertised";
    }
  }
  if (connect_retry.count() <= 0 || connect_retry_max < connect_retry) {
    return "connect retry must be positive and not above its maximum";
  }
  if (idle_hold.count() <= 0 || idle_hold_max < idle_hold) {
    return "idle hold must be positive and not above its maximum";
  }
  if (next_hop_v4 && !next_hop_v4->is_v4()) return "IPv4 next hop must be an IPv4 address";
  if (next_hop_v6 && next_hop_v6->is_v4()) return "IPv6 next hop must be an IPv6 address";
  if (next_hop_v6_link_local && !next_hop_v6_link_local->is_link_local()) {
    return "IPv6 link-local next hop must be in fe80::/10";
  }
  if (local_address && local_address->afi != peer_address.afi) {
    return "local address and peer address must be of the same family";
  }
  return std::nullopt;
}

bool same_session(const PeerConfig& a, const PeerConfig& b) {
  // Everything but the fields that need no new session; a field added later counts as a
  // session field until it is listed here.
  PeerConfig soft = b;
  soft.description = a.description;
  soft.mode = a.mode;
  soft.connect_retry = a.connect_retry;
  soft.connect_retry_max = a.connect_retry_max;
  soft.idle_hold = a.idle_hold;
  soft.idle_hold_max = a.idle_hold_max;
  soft.stable_time = a.stable_time;
  soft.max_prefix = a.max_prefix;
  soft.next_hop_v4 = a.next_hop_v4;
  soft.next_hop_v6 = a.next_hop_v6;
  soft.next_hop_v6_link_local = a.next_hop_v6_link_local;
  return soft == a;
}

}  // namespace herald::bgp

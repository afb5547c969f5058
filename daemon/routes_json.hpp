// The "routes" reply (heraldctl routes): a peer's Adj-RIB-Out as sent, in JSON. Pure: built from
// bgp::Peer::adj_rib_out_as_sent(), i.e. from the UPDATEs the encoder makes for that session,
// never from the configuration. Layout in daemon/status_schema.md.
#pragma once
#include <cstddef>
#include <vector>

#include <nlohmann/json.hpp>

#include "bgp/peer.hpp"

namespace herald::daemon {

// Most prefixes one "routes" reply lists over all peers: the control socket queues at most
// 1 MiB per client, and a prefix costs up to ~45 bytes. Counts are always complete.
inline constexpr std::size_t kRoutesListed = 10000;

// One object per attribute set: "family", "origin", "as_path" (ASNs, AS_SEQUENCE order; a set
// as a nested array), "as4_path" (only on a 2-octet-AS session), "next_hop",
// "link_local_next_hop" (IPv6, when sent), "med", "local_pref", "otc" (null when not sent),
// "communities", "large_communities" (strings "a:b", "a:b:c"), "extended_communities" (RFC 4360,
// as bgp::to_string writes them), "prefix_count" and "prefixes"
// (at most `budget` of them over all groups; `budget` is decreased, `truncated` set when some
// were left out).
nlohmann::json sent_routes_json(const std::vector<bgp::SentRoutes>& sent, std::size_t& budget, bool& truncated);

}  // namespace herald::daemon

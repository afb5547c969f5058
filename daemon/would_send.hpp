// What a dry run (herald --dry-run) would send to a peer, for the status ("would_send" of each
// service) and for "routes": one derivation, two views. Pure: built from the speaker's route set
// for the peer and the configuration, never from a session (a dry run opens none).
#pragma once
#include <vector>

#include "bgp/peer.hpp"
#include "bgp/speaker.hpp"
#include "conf/config.hpp"

namespace herald::daemon {

// `peer`'s route set in the speaker (its services, its own attributes), in the families it
// carries, grouped by the attributes as they would go on the wire (bgp::egress_attributes, the
// speaker's own code), prefixes sorted. The next hop is the one configured for the family, else
// the local address when of the family; none (nullopt in attributes.next_hop) stands for the
// session's local address, which a session that never comes up does not have.
std::vector<bgp::SentRoutes> would_send_routes(const conf::Config& config, const conf::PeerConfig& peer,
                                               const bgp::Speaker& speaker);

}  // namespace herald::daemon

// RFC 9234 5: the Only-to-Customer (OTC) attribute, which marks a route that may only travel
// "down" to customers, so that a route coming back "up" or sideways with it is a detected leak.
// Both procedures depend only on herald's configured role towards the neighbor (the OPEN
// checks already refused a role that does not pair with it); without a role, nothing changes.
// They apply to external sessions only: roles are not used on iBGP (RFC 9234 4).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "bgp/message.hpp"

namespace herald::bgp {

// Egress rule 1: towards a Customer, a Peer or a route server's client (herald is then
// Provider, Peer or RS), a route without OTC gets OTC = our AS. herald sends only its own
// routes, which never carry OTC, so egress rule 2 (no route with OTC to Providers, Peers or
// RSes) never has anything to hold back. nullopt: send no OTC.
std::optional<std::uint32_t> otc_on_egress(std::optional<Role> local_role, std::uint32_t local_as);

// What the ingress procedure makes of a received route's OTC.
struct OtcIngress {
  // Rules 1 and 2: the route leaked; it is ineligible (herald takes it as withdrawn). The text
  // says why, for the log.
  std::optional<std::string> leak;
  // Rule 3: from a Provider, a Peer or a route server without OTC, the route gets OTC = the
  // neighbor's AS. nullopt: the attribute stays as received.
  std::optional<std::uint32_t> add;
};
// Rule 1: OTC from a Customer or an RS client is a leak. Rule 2: from a Peer, OTC other than
// the Peer's AS is a leak. Rule 3 as above.
OtcIngress otc_on_ingress(std::optional<Role> local_role, std::uint32_t remote_as, std::optional<std::uint32_t> otc);

}  // namespace herald::bgp

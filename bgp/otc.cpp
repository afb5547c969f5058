#include "bgp/otc.hpp"

#include <fmt/format.h>

namespace herald::bgp {

std::optional<std::uint32_t> otc_on_egress(std::optional<Role> local_role, std::uint32_t local_as) {
  if (!local_role) return std::nullopt;
  switch (*local_role) {
    case Role::Provider:     // to a Customer
    case Role::Peer:         // to a Peer
    case Role::RouteServer:  // to an RS client
      return local_as;
    case Role::Customer:  // to a Provider
    case Role::RsClient:  // to a route server
      return std::nullopt;
  }
  return std::nullopt;
}

OtcIngress otc_on_ingress(std::optional<Role> local_role, std::uint32_t remote_as, std::optional<std::uint32_t> otc) {
  OtcIngress out;
  if (!local_role) return out;
  switch (*local_role) {
    case Role::Provider:     // from a Customer
    case Role::RouteServer:  // from an RS client
      if (otc) {
        out.leak = fmt::format("OTC {} on a route from {} (RFC 9234 5: route leak, route ineligible)", *otc,
                               *local_role == Role::Provider ? "a customer" : "a route server client");
      }
      break;
    case Role::Peer:  // from a Peer
      if (!otc) {
        out.add = remote_as;
      } else if (*otc != remote_as) {
        out.leak = fmt::format(
            "OTC {} on a route from a peer whose AS is {} (RFC 9234 5: route leak, route ineligible)", *otc,
            remote_as);
      }
      break;
    case Role::Customer:  // from a Provider
    case Role::RsClient:  // from a route server
      if (!otc) out.add = remote_as;
      break;
  }
  return out;
}

}  // namespace herald::bgp

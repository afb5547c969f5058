// Checks of a received UPDATE that need the session, not only its bytes: is the NEXT_HOP our
// own address, does an external peer's AS_PATH start with its AS (RFC 4271 6.3). The codec
// (codec.hpp) has already applied every check the bytes alone allow.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bgp/message.hpp"

namespace herald::bgp {

// What the checks need to know about the session the UPDATE came on.
struct SessionFacts {
  bool ebgp = true;
  std::uint32_t peer_as = 0;
  bool four_octet_as = true;      // RFC 6793: false -> AS_TRANS may stand for a large peer AS
  // Our addresses on this session: our end of the TCP connection and the next hops we
  // announce to the neighbor (an IPv4 session carries IPv6 routes with a configured one).
  std::vector<IpAddress> own_addresses;
  // RFC 7947 2.2.2.2: a route server does not put its AS first, so its clients skip the
  // first-AS check. False towards a route server.
  bool check_first_as = true;
};

// One line per finding, empty when the UPDATE passes. Any finding makes the UPDATE
// treat-as-withdraw (RFC 7606 7.2 for the first AS, 7.3 with RFC 4271 6.3 for the next hop):
// the session stays up and the routes the UPDATE announces count as withdrawn. UPDATEs that
// announce nothing are never faulted.
std::vector<std::string> session_checks(const Update& u, const SessionFacts& s);

}  // namespace herald::bgp

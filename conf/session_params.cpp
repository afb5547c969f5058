// Which peer settings a reload can apply without resetting the BGP session.
#include "conf/config.hpp"

#include <algorithm>

namespace herald::conf {

bool peer_session_params_equal(const PeerConfig& a, const PeerConfig& b) {
  // Everything negotiated in OPEN (AS, hold time, families, role: RFC 4271 4.2, RFC 4760 8,
  // RFC 9234 4), or fixed when the TCP connection is made (addresses, port, MD5 key, GTSM TTL),
  // or the session's identity (name) needs a new session. BFD settings restart the BFD
  // session, and with it the BGP session it guards. Description, max-prefix, the
  // next-hop overrides, mode and connect-retry(-max) only change what herald logs, sends next or
  // does on the next connection attempt, so they are left out.
  return a.name == b.name && a.address == b.address && a.remote_as == b.remote_as &&
         a.local_address == b.local_address && a.port == b.port &&
         a.hold_time == b.hold_time && a.keepalive == b.keepalive &&
         a.md5_password == b.md5_password && a.gtsm == b.gtsm && a.families == b.families &&
         a.role == b.role && a.strict_role == b.strict_role && a.bfd == b.bfd;
}

bool PeerConfig::carries(bgp::Family f) const {
  return std::find(families.begin(), families.end(), f) != families.end();
}

}  // namespace herald::conf

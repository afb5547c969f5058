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

std::vector<std::string> peer_changed_keys(const PeerConfig& a, const PeerConfig& b) {
  std::vector<std::string> out;
  auto note = [&](bool differs, const char* key) {
    if (differs) out.emplace_back(key);
  };
  note(a.name != b.name, "name");
  note(a.description != b.description, "description");
  note(a.address != b.address, "address");
  note(a.remote_as != b.remote_as, "remote-as");
  note(a.local_address != b.local_address, "local-address");
  note(a.port != b.port, "port");
  note(a.mode != b.mode, "mode");
  note(a.hold_time != b.hold_time, "hold-time");
  note(a.keepalive != b.keepalive, "keepalive");
  note(a.connect_retry != b.connect_retry, "connect-retry");
  note(a.connect_retry_max != b.connect_retry_max, "connect-retry-max");
  note(a.idle_hold != b.idle_hold, "idle-hold");
  note(a.idle_hold_max != b.idle_hold_max, "idle-hold-max");
  note(a.md5_password != b.md5_password, "md5-password");
  note(a.md5_password_file != b.md5_password_file, "md5-password-file");
  note(a.gtsm != b.gtsm, "gtsm");
  note(a.families != b.families, "families");
  note(a.next_hop_v4 != b.next_hop_v4, "next-hop-v4");
  note(a.next_hop_v6 != b.next_hop_v6, "next-hop-v6");
  note(a.next_hop_v6_link_local != b.next_hop_v6_link_local, "next-hop-v6-link-local");
  note(a.max_prefix != b.max_prefix, "max-prefix");
  note(a.role != b.role, "role");
  note(a.strict_role != b.strict_role, "strict-role");
  note(a.bfd.has_value() != b.bfd.has_value(), "bfd");
  if (a.bfd && b.bfd) {
    note(a.bfd->min_tx != b.bfd->min_tx, "bfd-min-tx");
    note(a.bfd->min_rx != b.bfd->min_rx, "bfd-min-rx");
    note(a.bfd->multiplier != b.bfd->multiplier, "bfd-multiplier");
    note(a.bfd->wait_for_up != b.bfd->wait_for_up, "bfd-wait-for-up");
  }
  return out;
}

bool PeerConfig::carries(bgp::Family f) const {
  return std::find(families.begin(), families.end(), f) != families.end();
}

}  // namespace herald::conf

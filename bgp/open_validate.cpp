// Meaning checks of a received OPEN (RFC 4271 6.2, RFC 5492 5, RFC 6793, RFC 7607, RFC 9234).
#include <algorithm>

#include "bgp/codec_detail.hpp"

namespace herald::bgp {

namespace {

Notification open_error(OpenSubcode sub, Bytes data = {}) {
  return Notification::make(ErrorCode::OpenMessageError, sub, std::move(data));
}

// RFC 9234 4.2: the only acceptable pairs of (local, remote) roles.
bool roles_pair(Role local, Role remote) {
  switch (local) {
    case Role::Provider: return remote == Role::Customer;
    case Role::Customer: return remote == Role::Provider;
    case Role::RouteServer: return remote == Role::RsClient;
    case Role::RsClient: return remote == Role::RouteServer;
    case Role::Peer: return remote == Role::Peer;
  }
  return false;
}

}  // namespace

std::optional<Notification> validate_open(const Open& open, const OpenPolicy& policy) {
  // 2/1: the data is the largest version we support, as a 2-octet number (RFC 4271 6.2).
  if (open.version != 4) return open_error(OpenSubcode::UnsupportedVersionNumber, Bytes{0, 4});

  // 2/2: AS 0 is never valid (RFC 7607 2); a 4-octet AS of 0 likewise.
  const std::uint32_t peer_as = open.effective_as();
  if (open.my_as == 0 || peer_as == 0 || (policy.peer_as && *policy.peer_as != peer_as)) {
    return open_error(OpenSubcode::BadPeerAs);
  }
  // 2/6: zero (no keepalives) is fine; 1 and 2 seconds are not (RFC 4271 4.2).
  if (open.hold_time == 1 || open.hold_time == 2) return open_error(OpenSubcode::UnacceptableHoldTime);
  // 2/3: 0 is not a valid identifier, and a peer using ours is a loop or a misconfiguration.
  if (open.bgp_id == 0 || open.bgp_id == policy.local_bgp_id) {
    return open_error(OpenSubcode::BadBgpIdentifier);
  }
  // 2/4: optional parameters other than Capabilities (RFC 5492 4).
  if (!open.unknown_params.empty()) return open_error(OpenSubcode::UnsupportedOptionalParameter);

  // 2/7: the data lists the capabilities we need and the peer lacks (RFC 5492 5).
  Bytes missing;
  Writer w(missing);
  for (const auto& f : policy.required_families) {
    if (std::find(open.caps.multiprotocol.begin(), open.caps.multiprotocol.end(), f) !=
        open.caps.multiprotocol.end()) {
      continue;
    }
    w.u8(static_cast<std::uint8_t>(CapabilityCode::Multiprotocol));
    w.u8(4);
    w.u16(static_cast<std::uint16_t>(f.afi));
    w.u8(0);
    w.u8(static_cast<std::uint8_t>(f.safi));
  }
  if (policy.require_four_octet_as && !open.caps.four_octet_as) {
    w.u8(static_cast<std::uint8_t>(CapabilityCode::FourOctetAs));
    w.u8(4);
    w.u32(policy.local_as);
  }
  if (!missing.empty()) return open_error(OpenSubcode::UnsupportedCapability, std::move(missing));

  // 2/11 (RFC 9234 4.2): a received role must pair with ours; strict mode requires one.
  if (policy.local_role) {
    if (open.caps.role) {
      if (!roles_pair(*policy.local_role, *open.caps.role)) return open_error(OpenSubcode::RoleMismatch);
    } else if (policy.strict_role) {
      return open_error(OpenSubcode::RoleMismatch);
    }
  }
  return std::nullopt;
}

}  // namespace herald::bgp

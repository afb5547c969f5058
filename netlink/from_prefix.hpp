// Conversion from the configuration's routing prefix (bgp::Prefix) to the address herald puts
// on the interface. Header-only and field-by-field, so herald_netlink needs no link dependency
// on herald_bgp.
#pragma once
#include "bgp/types.hpp"
#include "netlink/interface_address.hpp"

namespace herald::netlink {

// The announced prefix 192.0.2.1/32 is bound as the interface address 192.0.2.1/32 (same
// bytes, same length). A shorter prefix (e.g. 192.0.2.0/24) becomes its first address with
// that length, which is what "ip addr add 192.0.2.0/24" would do; configurations normally
// use host prefixes.
inline InterfaceAddress to_interface_address(const bgp::Prefix& prefix) {
  InterfaceAddress a;
  a.family = prefix.addr.afi == bgp::Afi::Ipv4 ? IpFamily::V4 : IpFamily::V6;
  a.bytes = prefix.addr.bytes;
  a.prefix_len = prefix.length;
  return a;
}

}  // namespace herald::netlink

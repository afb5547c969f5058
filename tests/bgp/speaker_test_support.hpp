// Shared by the speaker tests on loopback: a peer with timers short enough for a test.
#pragma once
#include <chrono>
#include <cstdint>

#include "bgp/speaker.hpp"

namespace herald::bgp::testing {

// Peer `name` at `address` in AS `as`: IPv4 unicast, hold time 9 s, reconnect after 200 ms.
inline SpeakerPeerConfig loopback_peer(const char* name, IpAddress address, std::uint32_t as) {
  using namespace std::chrono_literals;
  SpeakerPeerConfig p;
  p.bgp.name = name;
  p.bgp.peer_address = address;
  p.bgp.peer_as = as;
  p.bgp.hold_time = 9;
  p.bgp.families = {kIpv4Unicast};
  p.bgp.connect_retry = 200ms;
  p.bgp.idle_hold = 200ms;
  return p;
}

}  // namespace herald::bgp::testing

#include "daemon/would_send.hpp"

#include <algorithm>

#include "daemon/controller_config.hpp"

namespace herald::daemon {

std::vector<bgp::SentRoutes> would_send_routes(const conf::Config& config, const conf::PeerConfig& peer,
                                               const bgp::Speaker& speaker) {
  std::vector<bgp::SentRoutes> out;
  const bgp::PeerConfig bp = speaker_peer(config, peer).bgp;
  for (const auto& r : speaker.routes_of(peer.name)) {
    const bgp::Family f = r.prefix.family();
    if (!peer.carries(f)) continue;
    bgp::PathAttributes a = bgp::egress_attributes(*r.attrs, bp, peer.remote_as);
    const bool v4 = f == bgp::kIpv4Unicast;
    a.next_hop = v4 ? peer.next_hop_v4 : peer.next_hop_v6;
    if (!a.next_hop && peer.local_address && peer.local_address->is_v4() == v4) a.next_hop = peer.local_address;
    auto g = std::find_if(out.begin(), out.end(), [&](const auto& s) { return s.family == f && s.attributes == a; });
    if (g == out.end()) g = out.insert(out.end(), bgp::SentRoutes{f, std::move(a), {}});
    g->prefixes.push_back(r.prefix);
  }
  for (auto& g : out) std::sort(g.prefixes.begin(), g.prefixes.end());
  return out;
}

}  // namespace herald::daemon

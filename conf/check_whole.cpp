// Checks that need more than one section: duplicates, families without a peer, the router id.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "conf/sections.hpp"

namespace herald::conf::detail {

void check_whole(Context& ctx, Config& cfg, const GlobalPositions& g,
                 const std::vector<PeerPositions>& peers,
                 const std::vector<ServicePositions>& services) {
  // Peers: names are how logs and the control socket refer to them; two sessions to one
  // address would collide on the same TCP connection (RFC 4271 6.8).
  std::map<std::string, std::size_t> peer_names;
  std::map<bgp::IpAddress, std::size_t> peer_addresses;
  for (std::size_t i = 0; i < cfg.peers.size(); ++i) {
    const PeerConfig& p = cfg.peers[i];
    const std::string key = fmt::format("peer[{}]", i);
    if (!p.name.empty()) {
      auto [it, fresh] = peer_names.emplace(p.name, i);
      if (!fresh)
        ctx.error(peers[i].name, key + ".name",
                  fmt::format("duplicate peer name \"{}\" (also peer[{}], line {})", p.name,
                              it->second, peers[it->second].name.line));
    }
    if (peers[i].address.line != 0) {
      auto [it, fresh] = peer_addresses.emplace(p.address, i);
      if (!fresh)
        ctx.error(peers[i].address, key + ".address",
                  fmt::format("duplicate peer address {} (also peer[{}], line {})",
                              p.address.to_string(), it->second,
                              peers[it->second].address.line));
    }
    if (p.mode == PeerMode::Passive && cfg.global.listen.empty())
      ctx.error(peers[i].mode, key + ".mode",
                "a passive peer needs a listener, but global.listen is false");
  }

  // Services: unique names; every prefix in one service only and carried by some peer.
  std::map<std::string, std::size_t> service_names;
  std::map<bgp::Prefix, std::pair<std::size_t, Where>> owners;
  for (std::size_t i = 0; i < cfg.services.size(); ++i) {
    const ServiceConfig& s = cfg.services[i];
    if (!s.name.empty()) {
      auto [it, fresh] = service_names.emplace(s.name, i);
      if (!fresh)
        ctx.error(services[i].name, fmt::format("service[{}].name", i),
                  fmt::format("duplicate service name \"{}\" (also service[{}], line {})", s.name,
                              it->second, services[it->second].name.line));
    }
    for (std::size_t j = 0; j < s.prefixes.size(); ++j) {
      const bgp::Prefix& pfx = s.prefixes[j];
      const Where at = services[i].prefixes[j];
      const std::string key = fmt::format("service[{}].prefixes[{}]", i, j);
      auto [it, fresh] = owners.emplace(pfx, std::pair{i, at});
      if (!fresh)
        ctx.error(at, key,
                  fmt::format("duplicate prefix {} (also in service \"{}\", line {})",
                              pfx.to_string(), cfg.services[it->second.first].name,
                              it->second.second.line));
      const bool carried = std::any_of(cfg.peers.begin(), cfg.peers.end(), [&](const auto& p) {
        return p.carries(pfx.family());
      });
      if (!carried)
        ctx.error(at, key,
                  fmt::format("no peer carries {}, so {} would never be announced (add the "
                              "family to a peer's families)",
                              bgp::to_string(pfx.family()), pfx.to_string()));
    }
  }

  // RFC 6286: the BGP Identifier must be set; take it from the first IPv4 local address
  // when not given, as that is an address of this host.
  if (!g.router_id_given) {
    for (const PeerConfig& p : cfg.peers) {
      if (p.local_address && p.local_address->is_v4() && p.local_address->v4_host_order() != 0) {
        cfg.global.router_id = *p.local_address;
        break;
      }
    }
    if (!cfg.global.router_id.is_v4() || cfg.global.router_id.v4_host_order() == 0)
      ctx.error(g.table, "global.router-id",
                "router-id missing and not derivable: set it, or give an IPv4 peer a "
                "local-address");
  }
}

}  // namespace herald::conf::detail

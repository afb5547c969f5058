// Checks that need more than one section: duplicates, families without a peer, peers that are
// this host, the router id; and the accounts the config names, against the host.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>

#include "base/edit_distance.hpp"
#include "conf/sections.hpp"

namespace herald::conf::detail {
namespace {

bool contains(const bgp::Prefix& p, const bgp::IpAddress& a) {
  if (p.addr.afi != a.afi) return false;
  for (unsigned bit = 0; bit < p.length; ++bit) {
    const std::uint8_t mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    if ((p.addr.bytes[bit / 8] & mask) != (a.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

bool unspecified(const bgp::IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

// Where a peer address would make the session connect to this host itself: another peer's
// (or its own) local-address, a listen address, or a service prefix herald puts on an interface.
// Returns the reason, or "" when none applies.
std::string local_address_conflict(const Config& cfg, const bgp::IpAddress& a) {
  for (const PeerConfig& other : cfg.peers)
    if (other.local_address && *other.local_address == a)
      return fmt::format("is the local-address of peer \"{}\"", other.name);
  for (const Endpoint& e : cfg.global.listen)
    if (!unspecified(e.address) && e.address == a) return "is a global.listen address";
  for (const ServiceConfig& s : cfg.services) {
    if (!s.address.bind) continue;
    for (const bgp::Prefix& p : s.prefixes)
      if (contains(p, a))
        return fmt::format("is inside {}, which service \"{}\" binds on {}", p.to_string(), s.name,
                           s.address.interface);
  }
  return "";
}

}  // namespace

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
    if (peers[i].address.line != 0) {
      if (std::string why = local_address_conflict(cfg, p.address); !why.empty())
        ctx.error(peers[i].address, key + ".address",
                  fmt::format("{} {}: a session to it would reach this host itself",
                              p.address.to_string(), why));
    }
    // RFC 4271 5.1.5: LOCAL_PREF goes to internal peers only; an external one never sees it.
    if (p.attributes.local_pref && p.remote_as != cfg.global.local_as && cfg.global.local_as != 0)
      ctx.error(peers[i].local_pref, key + ".local-pref",
                fmt::format("peer \"{}\" is eBGP (remote-as {}, local-as {}): LOCAL_PREF is sent to iBGP "
                            "peers only (RFC 4271 5.1.5); use med or prepend towards an external peer",
                            p.name, p.remote_as, cfg.global.local_as));
    if (p.mode == PeerMode::Passive && cfg.global.listen.empty())
      ctx.error(peers[i].mode, key + ".mode",
                "a passive peer needs a listener, but global.listen is false");
  }

  // Services: unique names; every prefix in one service only and carried by some peer.
  std::map<std::string, std::size_t> service_names;
  auto place = [&](std::size_t svc, std::size_t j) {
    const ServiceConfig& o = cfg.services[svc];
    const unsigned line = services[svc].prefixes[j].line;
    if (j < o.prefixes.size() - o.file_prefixes) return fmt::format("line {}", line);
    return fmt::format("{} line {}", *o.prefixes_file, line);
  };
  // (prefix, service, index) of every prefix, sorted later to find duplicates: a flat vector,
  // as a map of 100,000 nodes would cost several MiB of small allocations for a moment.
  struct Owner {
    bgp::Prefix prefix;
    std::uint32_t service;
    std::uint32_t index;
  };
  std::vector<Owner> owners;
  // Up to 100,000s of prefixes with a prefixes-file: the key text is made only for errors.
  auto report = [&](std::size_t i, std::size_t j, std::string message) {
    const ServiceConfig& s = cfg.services[i];
    const Where at = services[i].prefixes[j];
    if (j < s.prefixes.size() - s.file_prefixes)
      ctx.error(at, fmt::format("{} prefixes[{}]", services[i].path, j), std::move(message));
    else
      ctx.error_in(*s.prefixes_file, at, fmt::format("{} prefixes-file", services[i].path),
                   std::move(message));
  };
  for (std::size_t i = 0; i < cfg.services.size(); ++i) {
    const ServiceConfig& s = cfg.services[i];
    if (!s.name.empty()) {
      auto [it, fresh] = service_names.emplace(s.name, i);
      if (!fresh)
        ctx.error(services[i].name, services[i].path + " name",
                  fmt::format("duplicate service name \"{}\" (also service[{}], line {})", s.name,
                              it->second, services[it->second].name.line));
    }
    // peers = [...]: each an existing [[peer]]; a typo gets the closest name.
    for (std::size_t k = 0; k < s.peers.size(); ++k) {
      if (peer_names.count(s.peers[k])) continue;
      std::string best;
      std::size_t best_distance = std::numeric_limits<std::size_t>::max();
      for (const auto& [name, index] : peer_names) {
        const std::size_t d = edit_distance(s.peers[k], name);
        if (d < best_distance) {
          best_distance = d;
          best = name;
        }
      }
      std::string message = fmt::format("no [[peer]] is named \"{}\"", s.peers[k]);
      if (!best.empty() && best_distance <= std::max<std::size_t>(2, s.peers[k].size() / 3))
        message += fmt::format("; did you mean \"{}\"?", best);
      ctx.error(services[i].peers[k], services[i].peer_keys[k], message);
    }
    bool carried[2] = {false, false};
    for (const PeerConfig& p : cfg.peers) {
      if (!s.announced_to(p.name)) continue;
      carried[0] = carried[0] || p.carries(bgp::kIpv4Unicast);
      carried[1] = carried[1] || p.carries(bgp::kIpv6Unicast);
    }
    for (std::size_t j = 0; j < s.prefixes.size(); ++j) {
      const bgp::Prefix& pfx = s.prefixes[j];
      owners.push_back({pfx, static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(j)});
      if (!carried[pfx.addr.is_v4() ? 0 : 1])
        report(i, j, s.peers.empty()
                         ? fmt::format("no peer carries {}, so {} would never be announced (add the "
                                       "family to a peer's families)",
                                       bgp::to_string(pfx.family()), pfx.to_string())
                         : fmt::format("none of the service's peers carries {}, so {} would never be "
                                       "announced (add the family to one of them, or a peer that "
                                       "carries it to the service's peers)",
                                       bgp::to_string(pfx.family()), pfx.to_string()));
    }
  }
  // Every prefix in one service only; the first place it is written owns it.
  std::stable_sort(owners.begin(), owners.end(),
                   [](const Owner& a, const Owner& b) { return a.prefix < b.prefix; });
  for (std::size_t k = 1; k < owners.size(); ++k) {
    if (!(owners[k].prefix == owners[k - 1].prefix)) continue;
    std::size_t first = k - 1;
    while (first > 0 && owners[first - 1].prefix == owners[k].prefix) --first;
    const Owner& o = owners[first];
    report(owners[k].service, owners[k].index,
           fmt::format("duplicate prefix {} (also in service \"{}\", {})", owners[k].prefix.to_string(),
                       cfg.services[o.service].name, place(o.service, o.index)));
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

void check_host(Context& ctx, const Config& cfg, const GlobalPositions& pos,
                const std::vector<PeerPositions>& peers, const HostLookup& host) {
  const GlobalConfig& g = cfg.global;
  // The default user is checked too: started as root, herald switches to it after start-up,
  // and a missing account would stop it there, with addresses bound and sessions opening.
  if (!g.user.empty() && host.user_exists) {
    const bool given = pos.user.line != 0;
    auto found = host.user_exists(g.user);
    if (!found)
      ctx.error(given ? pos.user : pos.table, "global.user", found.error());
    else if (!*found)
      ctx.error(given ? pos.user : pos.table, "global.user",
                given ? fmt::format("no user \"{}\" on this host", g.user)
                      : fmt::format("no user \"{}\" (the default) on this host: create it (the "
                                    "herald package does), name another with user = \"NAME\", or "
                                    "keep root with user = \"\"",
                                    g.user));
  }
  if (!g.control_group.empty() && host.group_exists) {
    auto found = host.group_exists(g.control_group);
    if (!found)
      ctx.error(pos.control_group, "global.control-group", found.error());
    else if (!*found)
      ctx.error(pos.control_group, "global.control-group",
                fmt::format("no group \"{}\" on this host", g.control_group));
  }
  // A peer at one of this host's own addresses: the session would connect to herald itself.
  if (host.local_addresses && !cfg.peers.empty()) {
    auto local = host.local_addresses();
    if (!local) {
      ctx.error(pos.table, "global", local.error());
    } else {
      for (std::size_t i = 0; i < cfg.peers.size(); ++i) {
        const bgp::IpAddress& a = cfg.peers[i].address;
        if (peers[i].address.line != 0 && std::find(local->begin(), local->end(), a) != local->end())
          ctx.error(peers[i].address, fmt::format("peer[{}].address", i),
                    fmt::format("{} is an address of this host: a session to it would reach this "
                                "host itself",
                                a.to_string()));
      }
    }
  }
}

}  // namespace herald::conf::detail

// What herald wants a neighbor to hold (Route) and what it has told that neighbor (AdjRibOut,
// RFC 4271 3.2). The difference between the two is the next set of UPDATEs.
#pragma once
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "bgp/message.hpp"
#include "bgp/types.hpp"

namespace herald::bgp {

// The attributes herald sets on an announcement. No NEXT_HOP: the session fills it in (its
// local address or the configured override). The session prepends the local AS on eBGP
// sessions (RFC 4271 5.1.2) and adds LOCAL_PREF on iBGP ones (5.1.5).
struct RouteAttributes {
  Origin origin = Origin::Igp;
  std::vector<std::uint32_t> as_path_prepend;  // extra ASNs after the local AS, in order
  std::optional<std::uint32_t> med;
  std::optional<std::uint32_t> local_pref;  // iBGP only; default 100 there
  std::vector<Community> communities;
  std::vector<LargeCommunity> large_communities;
  auto operator<=>(const RouteAttributes&) const = default;
  bool operator==(const RouteAttributes&) const = default;
};

// One desired announcement.
struct Route {
  Prefix prefix;
  RouteAttributes attrs;
  bool operator==(const Route&) const = default;
};

// The changes that turn an Adj-RIB-Out into a desired set, for one family.
struct RibDiff {
  std::vector<Prefix> withdrawn;                               // sorted
  std::map<RouteAttributes, std::vector<Prefix>> announced;    // added or changed, grouped
  bool empty() const { return withdrawn.empty() && announced.empty(); }
};

// The routes announced to one neighbor, per family. Holds no next hop: that is per session.
class AdjRibOut {
 public:
  // The changes from the current content to `desired` (routes of other families are ignored;
  // a prefix listed twice keeps its last attributes). An empty `desired` withdraws everything.
  RibDiff diff(Family family, const std::vector<Route>& desired) const;
  // Records that `d` was sent.
  void apply(Family family, const RibDiff& d);
  // Everything announced in `family`, grouped by attributes (for ROUTE-REFRESH, RFC 2918).
  std::map<RouteAttributes, std::vector<Prefix>> grouped(Family family) const;
  std::size_t size(Family family) const;
  void clear() { routes_.clear(); }

 private:
  std::map<Family, std::map<Prefix, RouteAttributes>> routes_;
};

}  // namespace herald::bgp

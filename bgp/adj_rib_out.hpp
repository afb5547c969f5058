// What herald wants a neighbor to hold (Route) and what it has told that neighbor (AdjRibOut,
// RFC 4271 3.2). The difference between the two is the next set of UPDATEs.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bgp/message.hpp"
#include "bgp/route_attributes.hpp"
#include "bgp/types.hpp"

namespace herald::bgp {

// One desired announcement. Its attributes are interned (route_attributes.hpp): a copy of a
// Route costs its prefix and a reference count.
struct Route {
  Prefix prefix;
  SharedAttributes attrs;
  bool operator==(const Route&) const = default;
};

// The routes of each neighbor, by name: one set per neighbor, shared between neighbors that
// are to hold the same routes (a set of 100,000 routes is built once, not once per neighbor).
// Sets are never null.
using PeerRoutes = std::map<std::string, std::shared_ptr<const std::vector<Route>>, std::less<>>;

// The changes that turn an Adj-RIB-Out into a desired set, for one family.
struct RibDiff {
  std::vector<Prefix> withdrawn;                               // sorted
  std::map<RouteAttributes, std::vector<Prefix>> announced;    // added or changed, grouped, sorted
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
  // Per family, sorted by prefix, one entry per prefix. A flat vector of (prefix, shared
  // attributes) costs 40 bytes a route where a map node with its own attribute copy cost ~150.
  std::map<Family, std::vector<Route>> routes_;
};

}  // namespace herald::bgp

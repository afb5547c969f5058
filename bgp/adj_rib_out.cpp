#include "bgp/adj_rib_out.hpp"

namespace herald::bgp {

RibDiff AdjRibOut::diff(Family family, const std::vector<Route>& desired) const {
  // The desired set of this family; a later duplicate of a prefix wins.
  std::map<Prefix, const RouteAttributes*> want;
  for (const auto& r : desired) {
    if (r.prefix.family() == family) want[r.prefix] = &r.attrs;
  }
  RibDiff d;
  static const std::map<Prefix, RouteAttributes> kEmpty;
  auto fam = routes_.find(family);
  const auto& have = fam == routes_.end() ? kEmpty : fam->second;
  for (const auto& [prefix, attrs] : have) {
    if (want.find(prefix) == want.end()) d.withdrawn.push_back(prefix);
  }
  for (const auto& [prefix, attrs] : want) {
    auto it = have.find(prefix);
    // RFC 4271 3.1: a changed route is simply announced again (an implicit withdraw).
    if (it == have.end() || it->second != *attrs) d.announced[*attrs].push_back(prefix);
  }
  return d;
}

void AdjRibOut::apply(Family family, const RibDiff& d) {
  auto& have = routes_[family];
  for (const auto& p : d.withdrawn) have.erase(p);
  for (const auto& [attrs, prefixes] : d.announced) {
    for (const auto& p : prefixes) have[p] = attrs;
  }
  if (have.empty()) routes_.erase(family);
}

std::map<RouteAttributes, std::vector<Prefix>> AdjRibOut::grouped(Family family) const {
  std::map<RouteAttributes, std::vector<Prefix>> out;
  auto fam = routes_.find(family);
  if (fam == routes_.end()) return out;
  for (const auto& [prefix, attrs] : fam->second) out[attrs].push_back(prefix);
  return out;
}

std::size_t AdjRibOut::size(Family family) const {
  auto fam = routes_.find(family);
  return fam == routes_.end() ? 0 : fam->second.size();
}

}  // namespace herald::bgp

#include "bgp/adj_rib_out.hpp"

#include <algorithm>

namespace herald::bgp {

namespace {

bool by_prefix(const Route& a, const Route& b) { return a.prefix < b.prefix; }

// Collects prefixes into groups of equal attributes. Routes come in runs that share one interned
// copy, so the group is found by pointer most of the time and by value only when it changes.
class Grouper {
 public:
  explicit Grouper(std::map<RouteAttributes, std::vector<Prefix>>& out) : out_(out) {}
  void add(const Route& r) {
    if (r.attrs.get() != last_) {
      last_ = r.attrs.get();
      group_ = &out_[*r.attrs];
    }
    group_->push_back(r.prefix);
  }

 private:
  std::map<RouteAttributes, std::vector<Prefix>>& out_;
  const RouteAttributes* last_ = nullptr;
  std::vector<Prefix>* group_ = nullptr;
};

}  // namespace

RibDiff AdjRibOut::diff(Family family, const std::vector<Route>& desired) const {
  // The desired set of this family, sorted by prefix; of a prefix listed twice the later wins.
  std::vector<const Route*> want;
  for (const auto& r : desired)
    if (r.prefix.family() == family) want.push_back(&r);
  const auto less = [](const Route* a, const Route* b) { return a->prefix < b->prefix; };
  if (!std::is_sorted(want.begin(), want.end(), less)) std::stable_sort(want.begin(), want.end(), less);

  RibDiff d;
  Grouper announce(d.announced);
  static const std::vector<Route> kEmpty;
  auto fam = routes_.find(family);
  const auto& have = fam == routes_.end() ? kEmpty : fam->second;
  // One merge walk over two sorted sequences.
  auto h = have.begin();
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (i + 1 < want.size() && want[i + 1]->prefix == want[i]->prefix) continue;  // a later one wins
    const Route& w = *want[i];
    for (; h != have.end() && h->prefix < w.prefix; ++h) d.withdrawn.push_back(h->prefix);
    if (h != have.end() && h->prefix == w.prefix) {
      // RFC 4271 3.1: a changed route is simply announced again (an implicit withdraw).
      if (!(h->attrs == w.attrs)) announce.add(w);
      ++h;
    } else {
      announce.add(w);
    }
  }
  for (; h != have.end(); ++h) d.withdrawn.push_back(h->prefix);
  return d;
}

void AdjRibOut::apply(Family family, const RibDiff& d) {
  // The announcements as routes sorted by prefix (each group is; several groups interleave).
  std::vector<Route> upd;
  std::size_t n = 0;
  for (const auto& [attrs, prefixes] : d.announced) n += prefixes.size();
  upd.reserve(n);
  for (const auto& [attrs, prefixes] : d.announced) {
    const SharedAttributes shared(attrs);
    for (const auto& p : prefixes) upd.push_back(Route{p, shared});
  }
  if (d.announced.size() > 1 || !std::is_sorted(upd.begin(), upd.end(), by_prefix))
    std::stable_sort(upd.begin(), upd.end(), by_prefix);
  std::vector<Prefix> gone = d.withdrawn;
  if (!std::is_sorted(gone.begin(), gone.end())) std::sort(gone.begin(), gone.end());

  auto& have = routes_[family];
  // The two bulk cases need no second vector (100,000 routes are 4 MB each): a first table is
  // the announcements themselves, and withdrawals alone filter in place.
  const bool unique = std::adjacent_find(upd.begin(), upd.end(), [](const Route& a, const Route& b) {
                        return a.prefix == b.prefix;
                      }) == upd.end();
  if (have.empty() && unique) {
    have = std::move(upd);
    if (have.empty()) routes_.erase(family);
    return;
  }
  if (upd.empty()) {
    std::erase_if(have, [&](const Route& r) { return std::binary_search(gone.begin(), gone.end(), r.prefix); });
    if (have.empty()) routes_.erase(family);
    return;
  }
  std::vector<Route> next;
  next.reserve(have.size() + upd.size() - std::min(have.size() + upd.size(), gone.size()));
  // Merge: an announcement replaces the entry of its prefix; a withdrawal drops it.
  auto h = have.begin();
  auto w = gone.begin();
  const auto keep_have_until = [&](const Prefix* limit) {
    for (; h != have.end() && (!limit || h->prefix < *limit); ++h) {
      while (w != gone.end() && *w < h->prefix) ++w;
      if (w != gone.end() && *w == h->prefix) continue;
      next.push_back(std::move(*h));
    }
  };
  for (std::size_t i = 0; i < upd.size(); ++i) {
    if (i + 1 < upd.size() && upd[i + 1].prefix == upd[i].prefix) continue;  // the later wins
    keep_have_until(&upd[i].prefix);
    if (h != have.end() && h->prefix == upd[i].prefix) ++h;  // replaced
    next.push_back(std::move(upd[i]));
  }
  keep_have_until(nullptr);
  if (next.empty()) {
    routes_.erase(family);
    return;
  }
  if (next.capacity() > next.size() + next.size() / 4) next.shrink_to_fit();
  have = std::move(next);
}

std::map<RouteAttributes, std::vector<Prefix>> AdjRibOut::grouped(Family family) const {
  std::map<RouteAttributes, std::vector<Prefix>> out;
  auto fam = routes_.find(family);
  if (fam == routes_.end()) return out;
  Grouper g(out);
  for (const auto& r : fam->second) g.add(r);
  return out;
}

std::size_t AdjRibOut::size(Family family) const {
  auto fam = routes_.find(family);
  return fam == routes_.end() ? 0 : fam->second.size();
}

}  // namespace herald::bgp

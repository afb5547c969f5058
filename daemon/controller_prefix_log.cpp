#include "daemon/controller_prefix_log.hpp"

#include <algorithm>

namespace herald::daemon {

std::size_t AnnouncedSet::size() const {
  std::size_t n = 0;
  for (const auto& l : lists_) n += l.prefixes->size();
  return n;
}

std::vector<ServicePrefixChange> diff_announced(const AnnouncedSet& before_set, const AnnouncedSet& after_set) {
  using List = AnnouncedSet::List;
  auto same = [](const List& x, const List& y) { return x.service == y.service && x.prefixes == y.prefixes; };
  auto changed = [&](const std::vector<List>& side, const std::vector<List>& other) {
    std::vector<const List*> out;
    for (const auto& l : side)
      if (std::none_of(other.begin(), other.end(), [&](const List& o) { return same(l, o); })) out.push_back(&l);
    return out;
  };
  const auto before = changed(before_set.lists_, after_set.lists_);
  const auto after = changed(after_set.lists_, before_set.lists_);

  std::map<std::string, ServicePrefixChange> by_service;
  auto entry = [&](const std::string& service) -> ServicePrefixChange& {
    auto& c = by_service[service];
    c.service = service;
    return c;
  };
  if (before.empty() || after.empty()) {
    // Each prefix is once in its set: a side's lists are all new, or all gone.
    for (const List* l : after) {
      auto& v = entry(l->service).announced;
      v.insert(v.end(), l->prefixes->begin(), l->prefixes->end());
    }
    for (const List* l : before) {
      auto& v = entry(l->service).withdrawn;
      v.insert(v.end(), l->prefixes->begin(), l->prefixes->end());
    }
  } else {
    // Both sides changed (a reload): compare the two unions, sorted, in one merge pass.
    using Entry = std::pair<bgp::Prefix, const std::string*>;
    auto flatten = [](const std::vector<const List*>& lists) {
      std::vector<Entry> out;
      for (const List* l : lists)
        for (const auto& p : *l->prefixes) out.emplace_back(p, &l->service);
      std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.first < b.first; });
      return out;
    };
    const auto b_all = flatten(before);
    const auto a_all = flatten(after);
    auto b = b_all.begin();
    auto a = a_all.begin();
    while (b != b_all.end() || a != a_all.end()) {
      if (a == a_all.end() || (b != b_all.end() && b->first < a->first)) {
        entry(*b->second).withdrawn.push_back(b->first);
        ++b;
      } else if (b == b_all.end() || a->first < b->first) {
        entry(*a->second).announced.push_back(a->first);
        ++a;
      } else {
        ++a;
        ++b;
      }
    }
  }
  std::vector<ServicePrefixChange> out;
  out.reserve(by_service.size());
  for (auto& [name, change] : by_service)
    if (!change.announced.empty() || !change.withdrawn.empty()) out.push_back(std::move(change));
  return out;
}

PrefixSummary summarise(const std::vector<bgp::Prefix>& prefixes, std::size_t listed) {
  PrefixSummary s;
  s.count = prefixes.size();
  for (const auto& p : prefixes) (p.addr.is_v4() ? s.ipv4 : s.ipv6) += 1;
  for (std::size_t i = 0; i < prefixes.size() && i < listed; ++i)
    s.first += (i ? ", " : "") + prefixes[i].to_string();
  if (prefixes.size() > listed) s.first += ", ...";
  return s;
}

}  // namespace herald::daemon

#include "fleet/drain_check.hpp"

#include <algorithm>

namespace herald::fleet {

std::string to_string(const DrainTarget& t) {
  switch (t.scope) {
    case DrainTarget::Scope::Site: return "site " + t.name;
    case DrainTarget::Scope::Region: return "region " + t.name;
    case DrainTarget::Scope::All: return "all";
  }
  std::abort();
}

Txn service_read_txn(const Keys& keys, std::string_view service) {
  const std::string sites = keys.sites_prefix();
  const std::string index = keys.index_prefix(service);
  const std::string ledger = keys.floor_prefix(service);
  const std::string desired = keys.desired_service_prefix(service);
  return Txn{{},
             {Op::range(sites, prefix_end(sites)), Op::range(index, prefix_end(index)),
              Op::range(ledger, prefix_end(ledger)), Op::range(desired, prefix_end(desired))},
             {}};
}

Expected<ServiceSnapshot, std::string> service_snapshot_from(const Keys& keys, std::string_view service,
                                                             const TxnResult& r) {
  if (r.ranges.size() != 4) return unexpected("fleet read: expected 4 ranges, got " + std::to_string(r.ranges.size()));
  ServiceSnapshot s;
  s.view = view_from_range(keys, r.ranges[0]);
  s.view.revision = r.revision;
  s.index = index_from_range(keys, service, r.ranges[1]);
  s.index.revision = r.revision;
  for (auto& p : s.index.problems) s.view.problems.push_back(std::move(p));
  s.index.problems.clear();
  s.ledger = ledger_from_range(keys, service, r.ranges[2]);
  for (const auto& kv : r.ranges[3].kvs) {
    auto target = target_of_key(keys, service, kv.key);
    auto value = desired_drain_from_json(kv.value);
    if (!target) {
      s.view.problems.push_back(kv.key + ": not a desired key of " + std::string(service));
      continue;
    }
    if (!value) {
      // A desired key drains whatever its value says (docs/fleet.md): count it all the same.
      s.view.problems.push_back(kv.key + ": " + value.error());
      value = DesiredDrain{};
    }
    s.drains.push_back(DrainEntry{std::string(service), *target, std::move(value.value()), kv.key});
  }
  return s;
}

DrainCheck check_drain(const ServiceSnapshot& s, std::string_view service, const DrainTarget& target,
                       const MinSites& min) {
  DrainCheck c;
  for (const auto& e : s.view.sites) {
    const ServiceState* sv = e.state.service(service);
    if (sv == nullptr) continue;
    ++c.publishing;
    const bool named = affects(target, e.state.site, e.state.region);
    if (named) c.affected.push_back(e.state.site);
    const bool drained = std::any_of(s.drains.begin(), s.drains.end(), [&](const DrainEntry& d) {
      return affects(d.target, e.state.site, e.state.region);
    });
    // Announced in its state and in its index key (one txn writes both; the index key is what
    // the witness compares guard).
    const IndexEntry* ix = s.index.find(e.state.site);
    if (!sv->announced || ix == nullptr || !ix->announced || s.ledger.contains(e.state.site) || drained) continue;
    c.announcing.push_back(e.state.site);
    if (!named) c.remaining.push_back(e.state.site);
  }
  c.floor = floor_sites(min, c.publishing);
  const std::string svc(service);
  const std::string counts = std::to_string(c.remaining.size()) + " of " + std::to_string(c.publishing) +
                             " sites announcing " + svc + ", floor " + std::to_string(c.floor) + " (min-sites " +
                             to_string(min) + ")";
  if (c.remaining.size() >= c.floor) {
    c.allowed = true;
    c.witnesses.assign(c.remaining.begin(), c.remaining.begin() + c.floor);
    c.reason = "the drain leaves " + counts;
  } else if (c.remaining.size() == c.announcing.size()) {
    c.allowed = true;  // it takes no announcing site away: it cannot lower the count
    c.reason = "the drain takes no announcing site away; " + counts;
  } else {
    c.reason = "a drain of " + svc + " at " + to_string(target) + " would leave " + counts;
  }
  return c;
}

Txn drain_txn(const Keys& keys, std::string_view service, const DrainTarget& target, const DesiredDrain& value,
              const ServiceSnapshot& s, const DrainCheck& check, bool force) {
  Txn t;
  if (!force) {
    // No desired key of the service written since the read (keys that do not exist are not
    // compared, so an empty prefix passes).
    const std::string desired = keys.desired_service_prefix(service);
    t.compare.push_back(Compare{desired, prefix_end(desired), Compare::Target::Mod, Compare::Result::Less,
                                s.view.revision + 1, {}});
    for (auto& c : witness_compares(keys, service, s.index, check.witnesses, s.view.revision))
      t.compare.push_back(std::move(c));
  }
  t.success.push_back(Op::put(desired_key(keys, service, target), to_json(value)));
  t.failure = service_read_txn(keys, service).success;
  return t;
}

Txn undrain_txn(const Keys& keys, std::string_view service, const DrainTarget& target) {
  Txn t;
  const std::string key = desired_key(keys, service, target);
  t.compare.push_back(Compare{key, {}, Compare::Target::Version, Compare::Result::Greater, 0, {}});
  t.success.push_back(Op::del(key));
  t.failure = service_read_txn(keys, service).success;
  return t;
}

}  // namespace herald::fleet

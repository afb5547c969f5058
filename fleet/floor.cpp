#include "fleet/floor.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace herald::fleet {

Expected<MinSites, std::string> parse_min_sites(std::string_view text) {
  MinSites m;
  std::string_view digits = text;
  if (!text.empty() && text.back() == '%') {
    m.kind = MinSites::Kind::Percent;
    digits.remove_suffix(1);
  }
  unsigned v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size())
    return unexpected(std::string("min-sites must be a count (2) or a share of the sites (\"34%\")"));
  if (m.kind == MinSites::Kind::Percent && v > 100) return unexpected(std::string("min-sites share must be at most 100%"));
  m.value = v;
  return m;
}

std::string to_string(const MinSites& m) {
  return std::to_string(m.value) + (m.kind == MinSites::Kind::Percent ? "%" : "");
}

unsigned floor_sites(const MinSites& m, std::size_t sites) {
  if (m.kind == MinSites::Kind::Count) return m.value;
  return static_cast<unsigned>((sites * m.value + 99) / 100);
}

bool Ledger::contains(std::string_view site) const {
  return std::binary_search(withdrawn.begin(), withdrawn.end(), site);
}

std::string to_json(const Ledger& l) { return nlohmann::json{{"withdrawn", l.withdrawn}}.dump(); }

Expected<Ledger, std::string> ledger_from_kv(const KeyValue* kv) {
  Ledger l;
  if (kv == nullptr) return l;
  l.mod_revision = kv->mod_revision;
  try {
    auto j = nlohmann::json::parse(kv->value);
    l.withdrawn = j.at("withdrawn").get<std::vector<std::string>>();
  } catch (const std::exception& e) {
    return unexpected(std::string("malformed floor ledger: ") + e.what());
  }
  std::sort(l.withdrawn.begin(), l.withdrawn.end());
  l.withdrawn.erase(std::unique(l.withdrawn.begin(), l.withdrawn.end()), l.withdrawn.end());
  return l;
}

const IndexEntry* ServiceIndex::find(std::string_view site) const {
  auto it = std::lower_bound(sites.begin(), sites.end(), site,
                             [](const IndexEntry& e, std::string_view s) { return e.site < s; });
  return it != sites.end() && it->site == site ? &*it : nullptr;
}

const char* index_value(bool announced) { return announced ? "announced" : "not-announced"; }

ServiceIndex index_from_range(const Keys& keys, std::string_view service, const RangeResult& range) {
  ServiceIndex ix;
  ix.revision = range.revision;
  const std::string prefix = keys.index_prefix(service);
  for (const auto& kv : range.kvs) {
    const std::string name = kv.key.compare(0, prefix.size(), prefix) == 0 ? kv.key.substr(prefix.size()) : std::string();
    if (!valid_name(name)) {
      ix.problems.push_back(kv.key + ": not a site's index key under " + prefix);
      continue;
    }
    if (kv.value != index_value(true) && kv.value != index_value(false)) {
      ix.problems.push_back(kv.key + ": neither announced nor not-announced");
      continue;
    }
    ix.sites.push_back(IndexEntry{name, kv.value == index_value(true), kv.mod_revision});
  }
  std::sort(ix.sites.begin(), ix.sites.end(), [](const IndexEntry& a, const IndexEntry& b) { return a.site < b.site; });
  return ix;
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::Announce: return "announce";
    case Verdict::Withdraw: return "withdraw";
    case Verdict::Hold: return "hold";
  }
  std::abort();
}

FloorDecision decide_floor(const ServiceIndex& index, const Ledger& ledger, const FloorInput& in, const MinSites& min) {
  FloorDecision d;
  std::size_t publishing = index.sites.size();
  std::vector<std::string> announcing;
  for (const auto& e : index.sites)
    if (e.site != in.site && e.announced && !ledger.contains(e.site)) announcing.push_back(e.site);
  if (index.find(in.site) == nullptr) ++publishing;  // this site counts even before its first publish
  d.floor = floor_sites(min, publishing);
  d.others_announcing = static_cast<unsigned>(announcing.size());

  if (in.dns_process_gone || in.address_gone || in.operator_drain) {
    d.verdict = Verdict::Withdraw;
    d.forced = true;
    d.reason = in.dns_process_gone ? "DNS process gone: the floor never holds it"
               : in.address_gone   ? "service address gone: the floor never holds it"
                                   : "drained by an operator: the floor never overrides a drain";
    return d;
  }
  if (!in.checks_fail) {
    d.verdict = Verdict::Announce;
    d.reason = "checks pass";
    return d;
  }
  if (d.others_announcing >= d.floor) {
    d.verdict = Verdict::Withdraw;
    d.witnesses.assign(announcing.begin(), announcing.begin() + d.floor);
    d.reason = "checks fail; " + std::to_string(d.others_announcing) + " other sites announce, floor " +
               std::to_string(d.floor);
    return d;
  }
  d.verdict = Verdict::Hold;
  d.reason = "held by fleet floor: checks fail but only " + std::to_string(d.others_announcing) +
             " other sites announce " + in.service + ", floor " + std::to_string(d.floor) + " (min-sites " +
             to_string(min) + ")";
  return d;
}

Txn floor_read_txn(const Keys& keys, std::string_view service) {
  const std::string index = keys.index_prefix(service);
  return Txn{{}, {Op::range(index, prefix_end(index)), Op::range(keys.floor(service))}, {}};
}

Expected<std::pair<ServiceIndex, Ledger>, std::string> floor_state_from(const Keys& keys, std::string_view service,
                                                                        const TxnResult& r) {
  if (r.ranges.size() != 2) return unexpected(std::string("floor read: expected 2 ranges, got ") + std::to_string(r.ranges.size()));
  ServiceIndex index = index_from_range(keys, service, r.ranges[0]);
  index.revision = r.revision;
  auto ledger = ledger_from_kv(r.ranges[1].kvs.empty() ? nullptr : &r.ranges[1].kvs[0]);
  if (!ledger) return unexpected(ledger.error());
  return std::pair{std::move(index), std::move(ledger.value())};
}

std::optional<Txn> floor_write_txn(const Keys& keys, const ServiceIndex& index, const Ledger& ledger,
                                   const FloorInput& in, const FloorDecision& decision) {
  if (decision.verdict == Verdict::Hold) return std::nullopt;
  Ledger next;
  for (const auto& s : ledger.withdrawn)
    if (s != in.site && index.find(s) != nullptr) next.withdrawn.push_back(s);
  if (decision.verdict == Verdict::Withdraw) {
    next.withdrawn.push_back(in.site);
    std::sort(next.withdrawn.begin(), next.withdrawn.end());
  }
  if (next.withdrawn == ledger.withdrawn && ledger.mod_revision != 0) return std::nullopt;  // nothing to change
  if (next.withdrawn.empty() && ledger.mod_revision == 0) return std::nullopt;

  Txn t;
  const std::string lkey = keys.floor(in.service);
  // The ledger is exactly as read: created at no revision yet (version 0), or last changed then.
  if (ledger.mod_revision == 0)
    t.compare.push_back(Compare{lkey, {}, Compare::Target::Version, Compare::Result::Equal, 0, {}});
  else
    t.compare.push_back(Compare{lkey, {}, Compare::Target::Mod, Compare::Result::Equal, ledger.mod_revision, {}});
  if (decision.verdict == Verdict::Withdraw && !decision.forced)
    for (const auto& w : decision.witnesses)
      if (const IndexEntry* e = index.find(w))
        t.compare.push_back(Compare{keys.index(in.service, w), {}, Compare::Target::Mod, Compare::Result::Equal, e->mod_revision, {}});
  t.success.push_back(Op::put(lkey, to_json(next)));
  t.failure = floor_read_txn(keys, in.service).success;
  return t;
}

std::chrono::milliseconds floor_retry_delay(int lost, double unit, std::chrono::milliseconds base,
                                            std::chrono::milliseconds cap) {
  if (lost < 1) return std::chrono::milliseconds(0);
  const int shift = std::min(lost - 1, 20);
  const auto span = std::min(cap.count(), base.count() << shift);
  const double u = std::clamp(unit, 0.0, 1.0);
  return std::chrono::milliseconds(std::min(static_cast<std::int64_t>(u * static_cast<double>(span)),
                                            std::max<std::int64_t>(0, span - 1)));
}

}  // namespace herald::fleet

#include "fleet/floor.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>

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

const char* ledger_value() { return "withdrawn"; }

Ledger ledger_from_range(const Keys& keys, std::string_view service, const RangeResult& range) {
  Ledger l;
  const std::string prefix = keys.floor_prefix(service);
  for (const auto& kv : range.kvs) {
    if (kv.key.compare(0, prefix.size(), prefix) != 0) continue;
    std::string name = kv.key.substr(prefix.size());
    if (valid_name(name)) l.withdrawn.push_back(std::move(name));
  }
  std::sort(l.withdrawn.begin(), l.withdrawn.end());
  l.withdrawn.erase(std::unique(l.withdrawn.begin(), l.withdrawn.end()), l.withdrawn.end());
  return l;
}

std::vector<std::string> ledger_keys_of(const Keys& keys, std::string_view site, const RangeResult& floors) {
  std::vector<std::string> out;
  const std::string prefix = keys.floors_prefix();
  for (const auto& kv : floors.kvs) {
    if (kv.key.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = kv.key.substr(prefix.size());  // <service>/<site>
    const auto slash = rest.find('/');
    if (slash == std::string::npos || !valid_name(rest.substr(0, slash))) continue;
    if (rest.compare(slash + 1, std::string::npos, site) == 0) out.push_back(kv.key);
  }
  return out;
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
  ix.publishing = ix.sites.size();
  return ix;
}

namespace {
// Adds the entries of `more` not in `into` yet, keeping it sorted (the same key read twice, its
// own key and in a page, at one revision, is the same entry).
void merge_entries(ServiceIndex& into, ServiceIndex&& more) {
  for (auto& e : more.sites) into.sites.push_back(std::move(e));
  std::stable_sort(into.sites.begin(), into.sites.end(), [](const IndexEntry& a, const IndexEntry& b) { return a.site < b.site; });
  into.sites.erase(std::unique(into.sites.begin(), into.sites.end(),
                               [](const IndexEntry& a, const IndexEntry& b) { return a.site == b.site; }),
                   into.sites.end());
  for (auto& p : more.problems) into.problems.push_back(std::move(p));
}
}  // namespace

void add_index_page(const Keys& keys, std::string_view service, ServiceIndex& index, const RangeResult& page) {
  merge_entries(index, index_from_range(keys, service, page));
  // An empty page that claims more cannot move on: treat it as the end, the safe side (a Hold).
  index.complete = !page.more || page.kvs.empty();
  index.next_key.clear();
  if (!index.complete) index.next_key = page.kvs.back().key + std::string(1, '\0');
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
  std::size_t publishing = index.publishing;
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
    d.reason = "checks fail; " + std::string(index.complete ? "" : "at least ") + std::to_string(d.others_announcing) +
               " other sites announce, floor " + std::to_string(d.floor);
    return d;
  }
  d.verdict = Verdict::Hold;
  if (!index.complete) {
    // The caller reads pages until it has `floor` of them or all: this is the bounded end of that.
    d.reason = "held by fleet floor: checks fail and only " + std::to_string(d.others_announcing) + " of the " +
               std::to_string(index.sites.size()) + " index keys of " + in.service + " read announce, floor " +
               std::to_string(d.floor) + " (min-sites " + to_string(min) + "); the rest not read";
    return d;
  }
  d.reason = "held by fleet floor: checks fail but only " + std::to_string(d.others_announcing) +
             " other sites announce " + in.service + ", floor " + std::to_string(d.floor) + " (min-sites " +
             to_string(min) + ")";
  return d;
}

namespace {
// n + 16 index keys, saturated (a count floor near the type's end must not wrap to a tiny page).
unsigned page_for(unsigned n) { return n > std::numeric_limits<unsigned>::max() - 16 ? std::numeric_limits<unsigned>::max() : n + 16; }
}  // namespace

unsigned floor_page(const MinSites& min) { return min.kind == MinSites::Kind::Count ? page_for(min.value) : 128; }

Txn floor_read_txn(const Keys& keys, std::string_view service, std::string_view site, unsigned page) {
  const std::string index = keys.index_prefix(service);
  const std::string ledger = keys.floor_prefix(service);
  return Txn{{},
             {Op::range_count(index, prefix_end(index)), Op::range(keys.index(service, site)),
              Op::range_keys(ledger, prefix_end(ledger)), Op::range_limit(index, prefix_end(index), page)},
             {}};
}

Expected<std::pair<ServiceIndex, Ledger>, std::string> floor_state_from(const Keys& keys, std::string_view service,
                                                                        std::string_view site, const TxnResult& r) {
  if (r.ranges.size() != 4) return unexpected(std::string("floor read: expected 4 ranges, got ") + std::to_string(r.ranges.size()));
  ServiceIndex index = index_from_range(keys, service, r.ranges[3]);
  index.revision = r.revision;
  index.publishing = static_cast<std::size_t>(std::max<std::int64_t>(r.ranges[0].count, 0));
  index.complete = !r.ranges[3].more || r.ranges[3].kvs.empty();
  if (!index.complete) index.next_key = r.ranges[3].kvs.back().key + std::string(1, '\0');
  // This site's own key, wherever it sorts: whether it publishes yet (decide_floor's +1).
  ServiceIndex own = index_from_range(keys, service, r.ranges[1]);
  own.sites.erase(std::remove_if(own.sites.begin(), own.sites.end(), [&](const IndexEntry& e) { return e.site != site; }),
                  own.sites.end());
  merge_entries(index, std::move(own));
  // A count below the entries read cannot come from one revision; never let it lower the floor.
  index.publishing = std::max(index.publishing, index.sites.size());
  return std::pair{std::move(index), ledger_from_range(keys, service, r.ranges[2])};
}

unsigned floor_more_needed(const ServiceIndex& index, const Ledger& ledger, const FloorInput& in, const MinSites& min) {
  if (index.complete) return 0;
  const FloorDecision d = decide_floor(index, ledger, in, min);
  if (d.verdict != Verdict::Hold) return 0;
  return page_for(d.floor - d.others_announcing);  // Hold: fewer than the floor
}

std::vector<Compare> witness_compares(const Keys& keys, std::string_view service, const ServiceIndex& index,
                                      const std::vector<std::string>& witnesses, std::int64_t read_revision) {
  std::vector<Compare> c;
  if (witnesses.empty()) return c;
  // (a) Each witness still says announced, as read: its index key is unchanged (a key deleted
  // since, a dead site's, compares as mod_revision 0 and fails).
  for (const auto& w : witnesses) {
    const IndexEntry* e = index.find(w);
    if (e == nullptr) std::abort();  // witnesses are picked from the index
    c.push_back(Compare{keys.index(service, w), {}, Compare::Target::Mod, Compare::Result::Equal, e->mod_revision, {}});
  }
  // (b) No ledger key in the witnesses' span created or changed since the read: one compare over
  // [first, last "\0"), the names being sorted. An empty span compares as one zero key, and
  // mod_revision 0 < read + 1 holds.
  if (!std::is_sorted(witnesses.begin(), witnesses.end())) std::abort();
  std::string end = keys.floor(service, witnesses.back());
  end.push_back('\0');  // the key just after the last witness's
  c.push_back(Compare{keys.floor(service, witnesses.front()), std::move(end), Compare::Target::Mod,
                      Compare::Result::Less, read_revision + 1, {}});
  return c;
}

std::optional<Txn> floor_write_txn(const Keys& keys, const ServiceIndex& index, const Ledger& ledger,
                                   const FloorInput& in, const FloorDecision& decision, unsigned page) {
  const bool ledgered = ledger.contains(in.site);
  const std::string own = keys.floor(in.service, in.site);
  Txn t;
  switch (decision.verdict) {
    case Verdict::Hold: return std::nullopt;
    case Verdict::Announce:
      if (!ledgered) return std::nullopt;
      t.success.push_back(Op::del(own));  // a recovery only raises the count: no compare
      break;
    case Verdict::Withdraw:
      if (ledgered) return std::nullopt;  // counted as withdrawn already
      if (!decision.forced) t.compare = witness_compares(keys, in.service, index, decision.witnesses, index.revision);
      t.success.push_back(Op::put(own, ledger_value(), in.lease));
      break;
  }
  t.failure = floor_read_txn(keys, in.service, in.site, page).success;
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

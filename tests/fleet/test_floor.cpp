// The fleet floor (fleet/floor.hpp): min-sites, the per-site ledger keys, the decision and its
// witnesses, the exact compares of each txn, and a model of etcd's serial order (a small store
// that evaluates compares as etcd 3.4 does) running many sites failing at once.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <random>

#include "fleet/floor.hpp"

using namespace herald::fleet;

namespace {

const Keys keys("prod");

// The floor's index of dns as etcd would return it: one key per site, mod revisions 10, 11, ...,
// read at revision 100.
ServiceIndex index_of(const std::vector<std::pair<std::string, bool>>& sites) {
  RangeResult r;
  r.revision = 100;
  std::int64_t rev = 10;
  for (const auto& [name, announced] : sites)
    r.kvs.push_back(KeyValue{keys.index("dns", name), index_value(announced), rev, rev, 1, 7}), ++rev;
  return index_from_range(keys, "dns", r);
}

ServiceIndex announcing(const std::vector<std::string>& names) {
  std::vector<std::pair<std::string, bool>> v;
  for (const auto& n : names) v.emplace_back(n, true);
  return index_of(v);
}

Ledger ledger_of(std::vector<std::string> sites) {
  RangeResult r;
  for (const auto& s : sites) r.kvs.push_back(KeyValue{keys.floor("dns", s), ledger_value(), 50, 50, 1, 0});
  return ledger_from_range(keys, "dns", r);
}

FloorInput failing(std::string s, std::int64_t lease = 0) {
  return FloorInput{std::move(s), "dns", true, false, false, false, lease};
}
FloorInput healthy(std::string s) { return FloorInput{std::move(s), "dns", false, false, false, false, 0}; }

const MinSites two{MinSites::Kind::Count, 2};

// A small etcd: keys with their revisions, one revision per txn that writes, and compares
// evaluated as etcd 3.4's applyCompare does: every key of [key, range_end) must satisfy the
// compare; no key at all compares as a zero KeyValue (mod_revision 0), except for a value.
class FakeEtcd {
 public:
  std::int64_t revision = 1;

  void put(const std::string& k, std::string v, std::int64_t lease = 0) {
    write(k, std::move(v), lease, ++revision);
  }
  void del(const std::string& k) {
    if (kv_.erase(k) != 0) ++revision;
  }
  bool has(const std::string& k) const { return kv_.count(k) != 0; }
  std::int64_t lease_of(const std::string& k) const { return kv_.at(k).lease; }
  std::vector<std::string> keys_under(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& kv : range(prefix, prefix_end(prefix))) out.push_back(kv.key);
    return out;
  }

  TxnResult txn(const Txn& t) {
    TxnResult r;
    r.succeeded = std::all_of(t.compare.begin(), t.compare.end(), [this](const Compare& c) { return holds(c); });
    const std::int64_t next = revision + 1;
    bool wrote = false;
    for (const auto& op : r.succeeded ? t.success : t.failure) {
      switch (op.kind) {
        case Op::Kind::Range: r.ranges.push_back(RangeResult{revision, range(op.key, op.range_end)}); break;
        case Op::Kind::Put: write(op.key, op.value, op.lease, next), wrote = true; break;
        case Op::Kind::Delete:
          REQUIRE(op.range_end.empty());
          wrote = kv_.erase(op.key) != 0 || wrote;
          break;
      }
    }
    if (wrote) revision = next;
    r.revision = revision;
    for (auto& rr : r.ranges) rr.revision = revision;
    return r;
  }

 private:
  void write(const std::string& k, std::string v, std::int64_t lease, std::int64_t rev) {
    auto& e = kv_[k];
    if (e.version == 0) e.create_revision = rev;
    e.key = k;
    e.value = std::move(v);
    e.mod_revision = rev;
    ++e.version;
    e.lease = lease;
  }
  std::vector<KeyValue> range(const std::string& key, const std::string& end) const {
    std::vector<KeyValue> out;
    if (end.empty()) {
      if (auto it = kv_.find(key); it != kv_.end()) out.push_back(it->second);
      return out;
    }
    for (auto it = kv_.lower_bound(key); it != kv_.end() && it->first < end; ++it) out.push_back(it->second);
    return out;
  }
  bool holds(const Compare& c) const {
    auto kvs = range(c.key, c.range_end);
    if (kvs.empty()) {
      if (c.target == Compare::Target::Value) return false;
      kvs.push_back(KeyValue{});
    }
    return std::all_of(kvs.begin(), kvs.end(), [&](const KeyValue& kv) {
      std::int64_t have = 0;
      switch (c.target) {
        case Compare::Target::Version: have = kv.version; break;
        case Compare::Target::Create: have = kv.create_revision; break;
        case Compare::Target::Mod: have = kv.mod_revision; break;
        case Compare::Target::Lease: have = kv.lease; break;
        case Compare::Target::Value:
          return c.result == Compare::Result::Equal ? kv.value == c.value : kv.value != c.value;
      }
      switch (c.result) {
        case Compare::Result::Equal: return have == c.number;
        case Compare::Result::NotEqual: return have != c.number;
        case Compare::Result::Greater: return have > c.number;
        case Compare::Result::Less: return have < c.number;
      }
      return false;
    });
  }
  std::map<std::string, KeyValue> kv_;
};

// `n` sites s01..sNN publishing dns as announced, in a fresh store.
std::vector<std::string> publish_sites(FakeEtcd& etcd, int n) {
  std::vector<std::string> names;
  for (int i = 1; i <= n; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "s%02d", i);
    names.emplace_back(name);
    etcd.put(keys.index("dns", name), index_value(true), 1000 + i);
  }
  return names;
}

std::pair<ServiceIndex, Ledger> read_floor(FakeEtcd& etcd) {
  return floor_state_from(keys, "dns", etcd.txn(floor_read_txn(keys, "dns"))).value();
}

// The sites announcing dns in the index and without a ledger key.
std::size_t announcing_unledgered(FakeEtcd& etcd) {
  const auto st = read_floor(etcd);
  return static_cast<std::size_t>(std::count_if(st.first.sites.begin(), st.first.sites.end(), [&](const IndexEntry& e) {
    return e.announced && !st.second.contains(e.site);
  }));
}

struct RaceResult {
  std::map<std::string, Verdict> verdicts;
  std::size_t lowest = 1000;  // the fewest announcing unledgered sites seen after any commit
  std::size_t withdrew() const {
    return static_cast<std::size_t>(std::count_if(verdicts.begin(), verdicts.end(),
                                                  [](const auto& v) { return v.second == Verdict::Withdraw; }));
  }
};

// The sites of `fail` decide at once: all read the same revision, then their txns reach etcd in
// an order drawn from `seed`, each built on that site's latest read (the first one, or its last
// lost txn's failure branch). `strip_compares` sends the txns without their compares: the
// model must then let them all withdraw, or it could not tell a broken txn from a good one.
RaceResult race(FakeEtcd& etcd, const std::vector<std::string>& fail, const MinSites& min, unsigned seed,
                bool strip_compares = false) {
  RaceResult out;
  const auto first = etcd.txn(floor_read_txn(keys, "dns"));
  std::map<std::string, std::pair<ServiceIndex, Ledger>> state;
  for (const auto& s : fail) state[s] = floor_state_from(keys, "dns", first).value();
  std::vector<std::string> open = fail;
  std::mt19937 gen(seed);
  for (int step = 0; step < 10000 && !open.empty(); ++step) {
    const std::size_t at = gen() % open.size();
    const std::string s = open[at];
    auto& [index, ledger] = state[s];
    const FloorDecision d = decide_floor(index, ledger, failing(s), min);
    auto t = floor_write_txn(keys, index, ledger, failing(s), d);
    bool done = !t;
    if (t) {
      if (strip_compares) t->compare.clear();
      const TxnResult r = etcd.txn(*t);
      if (r.succeeded) {
        done = true;
        out.lowest = std::min(out.lowest, announcing_unledgered(etcd));
      } else {
        state[s] = floor_state_from(keys, "dns", r).value();
      }
    }
    if (done) {
      out.verdicts[s] = d.verdict;
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(at));
    }
  }
  REQUIRE(open.empty());
  return out;
}

void recover_all(FakeEtcd& etcd, const std::vector<std::string>& sites, const MinSites& min) {
  for (const auto& s : sites) {
    auto [index, ledger] = read_floor(etcd);
    auto d = decide_floor(index, ledger, healthy(s), min);
    REQUIRE(d.verdict == Verdict::Announce);
    if (auto t = floor_write_txn(keys, index, ledger, healthy(s), d)) REQUIRE(etcd.txn(*t).succeeded);
  }
  REQUIRE(etcd.keys_under(keys.floor_prefix("dns")).empty());
}

}  // namespace

TEST_CASE("min-sites: a count or a share rounded up") {
  CHECK(parse_min_sites("2").value() == MinSites{MinSites::Kind::Count, 2});
  CHECK(parse_min_sites("34%").value() == MinSites{MinSites::Kind::Percent, 34});
  CHECK_FALSE(parse_min_sites("101%"));
  CHECK_FALSE(parse_min_sites("two"));
  CHECK_FALSE(parse_min_sites("%"));
  CHECK(floor_sites({MinSites::Kind::Percent, 34}, 3) == 2);  // 1.02 sites -> 2
  CHECK(floor_sites({MinSites::Kind::Percent, 34}, 100) == 34);
  CHECK(floor_sites({MinSites::Kind::Count, 2}, 100) == 2);
}

TEST_CASE("the ledger is one key per site under floor/<service>/: any value counts, only site names") {
  CHECK(keys.floor_prefix("dns") == "/herald/prod/floor/dns/");
  CHECK(keys.floor("dns", "ams1") == "/herald/prod/floor/dns/ams1");
  CHECK(std::string(ledger_value()) == "withdrawn");
  RangeResult r;
  r.kvs.push_back(KeyValue{keys.floor("dns", "b"), "withdrawn", 5, 5, 1, 7});
  r.kvs.push_back(KeyValue{keys.floor("dns", "a"), "{garbage", 6, 6, 1, 0});  // presence is what counts
  r.kvs.push_back(KeyValue{keys.floor("dns", "a") + "/x", "withdrawn", 7, 7, 1, 0});  // no site's key
  r.kvs.push_back(KeyValue{"/herald/prod/floor/dns", R"({"withdrawn":["c"]})", 3, 3, 1, 0});  // the old shared key
  const Ledger l = ledger_from_range(keys, "dns", r);
  CHECK(l.withdrawn == std::vector<std::string>{"a", "b"});
  CHECK(l.contains("a"));
  CHECK_FALSE(l.contains("c"));

  // The read: the index and the ledger, both prefix ranges, at one revision.
  const Txn read = floor_read_txn(keys, "dns");
  REQUIRE(read.success.size() == 2);
  CHECK(read.success[0].key == "/herald/prod/index/dns/");
  CHECK(read.success[0].range_end == "/herald/prod/index/dns0");
  CHECK(read.success[1].key == "/herald/prod/floor/dns/");
  CHECK(read.success[1].range_end == "/herald/prod/floor/dns0");
}

TEST_CASE("the floor reads the service's index: one small key per site, a bad key reported and skipped") {
  CHECK(keys.index("dns", "ams1") == "/herald/prod/index/dns/ams1");
  RangeResult r;
  r.kvs.push_back(KeyValue{keys.index("dns", "b"), "not-announced", 5, 5, 1, 7});
  r.kvs.push_back(KeyValue{keys.index("dns", "a"), "announced", 4, 4, 1, 7});
  r.kvs.push_back(KeyValue{keys.index("dns", "c"), "maybe", 6, 6, 1, 7});
  ServiceIndex ix = index_from_range(keys, "dns", r);
  REQUIRE(ix.sites.size() == 2);
  CHECK(ix.sites[0].site == "a");  // sorted
  CHECK(ix.sites[0].announced);
  CHECK_FALSE(ix.find("b")->announced);
  CHECK(ix.find("c") == nullptr);
  CHECK(ix.problems.size() == 1);

  // A site publishing dns without announcing it counts for a share floor, not as announcing.
  const MinSites half{MinSites::Kind::Percent, 50};
  auto d = decide_floor(ix, {}, failing("a"), half);
  CHECK(d.floor == 1);  // 50% of the 2 sites publishing dns
  CHECK(d.others_announcing == 0);
  CHECK(d.verdict == Verdict::Hold);
}

TEST_CASE("a site's ledger keys of every service, for fleet forget") {
  RangeResult r;
  for (const char* k : {"/herald/prod/floor/dns", "/herald/prod/floor/dns/a", "/herald/prod/floor/dns/ab",
                        "/herald/prod/floor/dns/b", "/herald/prod/floor/ntp/a", "/herald/prod/floor/a"})
    r.kvs.push_back(KeyValue{k, "withdrawn", 1, 1, 1, 0});
  CHECK(ledger_keys_of(keys, "a", r) ==
        std::vector<std::string>{"/herald/prod/floor/dns/a", "/herald/prod/floor/ntp/a"});
  CHECK(ledger_keys_of(keys, "c", r).empty());
}

TEST_CASE("the floor: a failing site withdraws while enough others announce, holds otherwise") {
  ServiceIndex v = announcing({"a", "b", "c"});
  auto d = decide_floor(v, {}, failing("a"), two);
  CHECK(d.verdict == Verdict::Withdraw);
  CHECK(d.witnesses == std::vector<std::string>{"b", "c"});

  auto held = decide_floor(v, ledger_of({"a"}), failing("b"), two);
  CHECK(held.verdict == Verdict::Hold);
  CHECK(held.others_announcing == 1);  // c; a has a ledger key although its index still says announced
  CHECK(held.reason.rfind("held by fleet floor", 0) == 0);

  // A ledger key of a site the index does not have (its herald is gone) changes nothing.
  auto d2 = decide_floor(v, ledger_of({"x"}), failing("b"), two);
  CHECK(d2.verdict == Verdict::Withdraw);
  CHECK(d2.others_announcing == 2);
}

TEST_CASE("witnesses: the first `floor` announcing others in site-name order, the same for every failing site") {
  ServiceIndex v = index_of({{"e", true}, {"a", true}, {"d", false}, {"c", true}, {"b", true}, {"f", true}});
  const MinSites three{MinSites::Kind::Count, 3};
  // Every failing site outside the first three picks the same witnesses.
  for (const char* s : {"e", "f"}) CHECK(decide_floor(v, {}, failing(s), three).witnesses == std::vector<std::string>{"a", "b", "c"});
  // A site among them skips itself; d does not announce; b is withdrawn.
  CHECK(decide_floor(v, {}, failing("a"), three).witnesses == std::vector<std::string>{"b", "c", "e"});
  CHECK(decide_floor(v, ledger_of({"b"}), failing("f"), three).witnesses == std::vector<std::string>{"a", "c", "e"});
}

TEST_CASE("the floor never holds a site whose process or address is gone, nor against a drain") {
  const MinSites all{MinSites::Kind::Percent, 100};
  ServiceIndex v = announcing({"a", "b"});
  for (auto in : {FloorInput{"a", "dns", true, true, false, false}, FloorInput{"a", "dns", true, false, true, false},
                  FloorInput{"a", "dns", false, false, false, true}}) {
    auto d = decide_floor(v, {}, in, all);
    CHECK(d.verdict == Verdict::Withdraw);
    CHECK(d.forced);
  }
  CHECK(decide_floor(v, {}, failing("a"), all).verdict == Verdict::Hold);
  CHECK(decide_floor(v, {}, FloorInput{"a", "dns"}, all).verdict == Verdict::Announce);
}

TEST_CASE("a floor-checked withdrawal: puts its own key if each witness's index and the witnesses' ledger span are as read") {
  ServiceIndex v = announcing({"a", "b", "c", "d", "e"});  // index mod revisions 10..14, read at 100
  const MinSites three{MinSites::Kind::Count, 3};
  auto d = decide_floor(v, {}, failing("e", 0x42), three);
  REQUIRE(d.witnesses == std::vector<std::string>{"a", "b", "c"});
  auto t = floor_write_txn(keys, v, {}, failing("e", 0x42), d);
  REQUIRE(t);
  REQUIRE(t->compare.size() == 4);  // floor + 1, whatever the number of sites
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(t->compare[i].key == keys.index("dns", d.witnesses[i]));
    CHECK(t->compare[i].range_end.empty());
    CHECK(t->compare[i].target == Compare::Target::Mod);
    CHECK(t->compare[i].result == Compare::Result::Equal);
    CHECK(t->compare[i].number == 10 + static_cast<std::int64_t>(i));
  }
  // One range compare over the ledger keys of the witnesses' span, a .. c inclusive.
  const Compare& span = t->compare[3];
  CHECK(span.key == "/herald/prod/floor/dns/a");
  CHECK(span.range_end == std::string("/herald/prod/floor/dns/c\0", 25));
  CHECK(span.range_end.size() == keys.floor("dns", "c").size() + 1);
  CHECK(span.target == Compare::Target::Mod);
  CHECK(span.result == Compare::Result::Less);
  CHECK(span.number == 101);  // nothing created or changed after the read at 100
  REQUIRE(t->success.size() == 1);
  CHECK(t->success[0].kind == Op::Kind::Put);
  CHECK(t->success[0].key == "/herald/prod/floor/dns/e");
  CHECK(t->success[0].value == "withdrawn");
  CHECK(t->success[0].lease == 0x42);  // goes with the site's lease
  // Failure branch: the floor's read, so that the loser decides again on the fresh state.
  const Txn read = floor_read_txn(keys, "dns");
  REQUIRE(t->failure.size() == read.success.size());
  for (std::size_t i = 0; i < read.success.size(); ++i) {
    CHECK(t->failure[i].kind == Op::Kind::Range);
    CHECK(t->failure[i].key == read.success[i].key);
    CHECK(t->failure[i].range_end == read.success[i].range_end);
  }
  // The message etcd gets: range_end base64 like the key (etcd's Compare field 64).
  const std::string body = txn_body(*t);
  CHECK(body.find(R"("range_end":")" + base64_encode(span.range_end) + "\"") != std::string::npos);
}

TEST_CASE("forced withdrawals, recoveries and holds: no compares, only the site's own key") {
  ServiceIndex v = announcing({"a", "b", "c"});
  const MinSites all{MinSites::Kind::Percent, 100};
  // Forced: a put under the lease, never refused.
  FloorInput gone{"a", "dns", true, true, false, false, 9};
  auto forced = decide_floor(v, {}, gone, all);
  auto t = floor_write_txn(keys, v, {}, gone, forced);
  REQUIRE(t);
  CHECK(t->compare.empty());
  REQUIRE(t->success.size() == 1);
  CHECK(t->success[0].kind == Op::Kind::Put);
  CHECK(t->success[0].key == keys.floor("dns", "a"));
  CHECK(t->success[0].lease == 9);
  // Withdrawing while the key exists: counted already, nothing to write.
  CHECK_FALSE(floor_write_txn(keys, v, ledger_of({"a"}), gone, forced));
  CHECK_FALSE(floor_write_txn(keys, v, ledger_of({"a"}), failing("a"), decide_floor(v, ledger_of({"a"}), failing("a"), two)));

  // Back to health: delete the own key, no compare; nothing when there is none.
  auto back = decide_floor(v, ledger_of({"a", "b"}), healthy("a"), two);
  REQUIRE(back.verdict == Verdict::Announce);
  auto t2 = floor_write_txn(keys, v, ledger_of({"a", "b"}), healthy("a"), back);
  REQUIRE(t2);
  CHECK(t2->compare.empty());
  REQUIRE(t2->success.size() == 1);
  CHECK(t2->success[0].kind == Op::Kind::Delete);
  CHECK(t2->success[0].key == keys.floor("dns", "a"));
  CHECK(t2->success[0].range_end.empty());  // b's key is b's
  CHECK_FALSE(floor_write_txn(keys, v, ledger_of({"b"}), healthy("a"), back));

  // Held: nothing to write.
  auto held = decide_floor(v, {}, failing("a"), all);
  REQUIRE(held.verdict == Verdict::Hold);
  CHECK_FALSE(floor_write_txn(keys, v, {}, failing("a"), held));

  // Floor 0: nothing to compare against.
  auto free = decide_floor(v, {}, failing("a"), MinSites{});
  auto t3 = floor_write_txn(keys, v, {}, failing("a"), free);
  REQUIRE(t3);
  CHECK(t3->compare.empty());
}

TEST_CASE("the compares against etcd's rules: a witness that changed, died or withdrew fails the txn; other sites' keys do not") {
  FakeEtcd etcd;
  const auto sites = publish_sites(etcd, 6);  // s01..s06
  const MinSites three{MinSites::Kind::Count, 3};
  auto attempt = [&](const std::function<void()>& meanwhile) {
    auto [index, ledger] = read_floor(etcd);
    auto d = decide_floor(index, ledger, failing("s06"), three);
    REQUIRE(d.witnesses == std::vector<std::string>{"s01", "s02", "s03"});
    auto t = floor_write_txn(keys, index, ledger, failing("s06"), d);
    REQUIRE(t);
    meanwhile();
    const bool ok = etcd.txn(*t).succeeded;
    if (ok) etcd.del(keys.floor("dns", "s06"));
    return ok;
  };
  CHECK(attempt([] {}));
  // A witness published not-announced since the read.
  CHECK_FALSE(attempt([&] { etcd.put(keys.index("dns", "s02"), index_value(false)); }));
  etcd.put(keys.index("dns", "s02"), index_value(true));
  // A witness died: its index key went with its lease.
  CHECK_FALSE(attempt([&] { etcd.del(keys.index("dns", "s03")); }));
  etcd.put(keys.index("dns", "s03"), index_value(true));
  // A witness withdrew since the read: its ledger key appeared.
  CHECK_FALSE(attempt([&] { etcd.put(keys.floor("dns", "s01"), ledger_value()); }));
  etcd.del(keys.floor("dns", "s01"));
  CHECK_FALSE(attempt([&] { etcd.put(keys.floor("dns", "s03"), ledger_value()); }));  // the span's last key
  etcd.del(keys.floor("dns", "s03"));
  // A site outside the witnesses' span withdrew: no conflict (what one key per site buys).
  CHECK(attempt([&] { etcd.put(keys.floor("dns", "s05"), ledger_value()); }));
  etcd.del(keys.floor("dns", "s05"));
  CHECK(attempt([&] { etcd.put(keys.floor("dns", "s00"), ledger_value()); }));
  etcd.del(keys.floor("dns", "s00"));
  // A site inside the span that is no witness (not announcing) withdrew: a harmless false conflict.
  etcd.put(keys.index("dns", "s02"), index_value(false));
  auto [index, ledger] = read_floor(etcd);
  auto d = decide_floor(index, ledger, failing("s06"), three);
  REQUIRE(d.witnesses == std::vector<std::string>{"s01", "s03", "s04"});
  auto t = floor_write_txn(keys, index, ledger, failing("s06"), d);
  etcd.put(keys.floor("dns", "s02"), ledger_value());
  CHECK_FALSE(etcd.txn(*t).succeeded);
  // A recovery inside the span (a ledger key deleted) is no conflict: it only raises the count.
  etcd.put(keys.index("dns", "s02"), index_value(true));
  auto [index2, ledger2] = read_floor(etcd);
  auto d2 = decide_floor(index2, ledger2, failing("s06"), three);
  REQUIRE(d2.witnesses == std::vector<std::string>{"s01", "s03", "s04"});
  auto t2 = floor_write_txn(keys, index2, ledger2, failing("s06"), d2);
  etcd.del(keys.floor("dns", "s02"));
  CHECK(etcd.txn(*t2).succeeded);
  CHECK(etcd.has(keys.floor("dns", "s06")));
}

TEST_CASE("many sites failing at once, in any order etcd commits them: never below the floor") {
  // 12 sites, min-sites 4, all failing: exactly 8 withdraw, whatever the order; the witnesses
  // themselves fail too.
  const MinSites four{MinSites::Kind::Count, 4};
  for (unsigned seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    FakeEtcd etcd;
    const auto sites = publish_sites(etcd, 12);
    auto r = race(etcd, sites, four, seed);
    CHECK(r.withdrew() == 8);
    CHECK(r.lowest >= 4);
    CHECK(etcd.keys_under(keys.floor_prefix("dns")).size() == 8);
    for (const auto& sv : r.verdicts) CHECK(etcd.has(keys.floor("dns", sv.first)) == (sv.second == Verdict::Withdraw));
    recover_all(etcd, sites, four);
    // Again, after everyone recovered: the ledger is empty and the floor the same.
    CHECK(race(etcd, sites, four, seed + 1000).withdrew() == 8);
  }
  // Half of them failing, the first six by name (every failing site's witnesses include failing
  // sites), min-sites 8: exactly 4 withdraw.
  const MinSites eight{MinSites::Kind::Count, 8};
  for (unsigned seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    FakeEtcd etcd;
    const auto sites = publish_sites(etcd, 12);
    auto r = race(etcd, {sites.begin(), sites.begin() + 6}, eight, seed);
    CHECK(r.withdrew() == 4);
    CHECK(r.lowest >= 8);
  }
  // The model can tell: without the compares, the same schedules let every failing site withdraw.
  FakeEtcd etcd;
  const auto sites = publish_sites(etcd, 12);
  auto broken = race(etcd, sites, four, 1, /*strip_compares=*/true);
  CHECK(broken.withdrew() == 12);
  CHECK(broken.lowest == 0);
}

TEST_CASE("a lost race waits a random while that grows with each loss, bounded by the cap") {
  using std::chrono::milliseconds;
  CHECK(floor_retry_delay(0, 0.9) == milliseconds(0));
  CHECK(floor_retry_delay(1, 0.0) == milliseconds(0));
  CHECK(floor_retry_delay(1, 0.5) == milliseconds(2));   // [0, 5)
  CHECK(floor_retry_delay(2, 0.5) == milliseconds(5));   // [0, 10)
  CHECK(floor_retry_delay(3, 0.5) == milliseconds(10));  // [0, 20)
  CHECK(floor_retry_delay(9, 0.5) == milliseconds(40));  // capped at [0, 80)
  CHECK(floor_retry_delay(30, 0.999) == milliseconds(79));
  CHECK(floor_retry_delay(3, 1.0) < milliseconds(20));  // never the end of the span
}

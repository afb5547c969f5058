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
// Ranges as etcd 3.4's: a limit (count is every key of the range, more whether keys were left),
// keys only, count only, and a plain range at an older revision (every revision's store is kept).
class FakeEtcd {
 public:
  std::int64_t revision = 1;
  int page_reads = 0;  // plain ranges at a revision (the floor's pages after the first)

  void put(const std::string& k, std::string v, std::int64_t lease = 0) {
    write(k, std::move(v), lease, ++revision);
    history_[revision] = kv_;
  }
  void del(const std::string& k) {
    if (kv_.erase(k) != 0) history_[++revision] = kv_;
  }
  // A plain range at `rev` (0: now), at most `limit` keys.
  RangeResult range_at(const std::string& key, const std::string& end, std::int64_t rev, std::int64_t limit) {
    ++page_reads;
    const std::int64_t at = rev == 0 ? revision : rev;
    REQUIRE(at <= revision);
    auto it = history_.upper_bound(at);  // the store as of `at`: the last write at or before it
    REQUIRE(it != history_.begin());
    return limited(RangeResult{revision, range_in(std::prev(it)->second, key, end)}, limit, false, false);
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
        case Op::Kind::Range:
          r.ranges.push_back(limited(RangeResult{revision, range(op.key, op.range_end)}, op.limit, op.keys_only, op.count_only));
          break;
        case Op::Kind::Put: write(op.key, op.value, op.lease, next), wrote = true; break;
        case Op::Kind::Delete:
          REQUIRE(op.range_end.empty());
          wrote = kv_.erase(op.key) != 0 || wrote;
          break;
      }
    }
    if (wrote) revision = next, history_[revision] = kv_;
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
  std::vector<KeyValue> range(const std::string& key, const std::string& end) const { return range_in(kv_, key, end); }
  static std::vector<KeyValue> range_in(const std::map<std::string, KeyValue>& kv, const std::string& key,
                                        const std::string& end) {
    std::vector<KeyValue> out;
    if (end.empty()) {
      if (auto it = kv.find(key); it != kv.end()) out.push_back(it->second);
      return out;
    }
    for (auto it = kv.lower_bound(key); it != kv.end() && it->first < end; ++it) out.push_back(it->second);
    return out;
  }
  static RangeResult limited(RangeResult r, std::int64_t limit, bool keys_only, bool count_only) {
    r.count = static_cast<std::int64_t>(r.kvs.size());
    if (limit > 0 && r.count > limit) {
      r.kvs.resize(static_cast<std::size_t>(limit));
      r.more = true;
    }
    if (keys_only)
      for (auto& kv : r.kvs) kv.value.clear();
    if (count_only) r.kvs.clear();
    return r;
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
  std::map<std::int64_t, std::map<std::string, KeyValue>> history_{{1, {}}};
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

// The whole index and ledger (page 0), as a site that publishes nothing would read them.
std::pair<ServiceIndex, Ledger> read_floor(FakeEtcd& etcd) {
  auto st = floor_state_from(keys, "dns", "zz", etcd.txn(floor_read_txn(keys, "dns", "zz", 0))).value();
  REQUIRE(st.first.complete);
  return st;
}

// What run_floor does after a read: the pages the decision needs, each at the read's revision.
void read_pages(FakeEtcd& etcd, std::pair<ServiceIndex, Ledger>& st, const FloorInput& in, const MinSites& min) {
  for (int n = 0; n < 1000; ++n) {
    const unsigned limit = floor_more_needed(st.first, st.second, in, min);
    if (limit == 0) return;
    const std::string prefix = keys.index_prefix("dns");
    add_index_page(keys, "dns", st.first, etcd.range_at(st.first.next_key, prefix_end(prefix), st.first.revision, limit));
  }
  FAIL("paging did not end");
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
// With a `page`, each read is the first `page` index keys: a site whose decision needs more reads
// them one page per step, at its read's revision, while other sites commit in between.
RaceResult race(FakeEtcd& etcd, const std::vector<std::string>& fail, const MinSites& min, unsigned seed,
                bool strip_compares = false, unsigned page = 0) {
  RaceResult out;
  std::map<std::string, std::pair<ServiceIndex, Ledger>> state;
  for (const auto& s : fail)
    state[s] = floor_state_from(keys, "dns", s, etcd.txn(floor_read_txn(keys, "dns", s, page))).value();
  std::vector<std::string> open = fail;
  std::mt19937 gen(seed);
  for (int step = 0; step < 10000 && !open.empty(); ++step) {
    const std::size_t at = gen() % open.size();
    const std::string s = open[at];
    auto& [index, ledger] = state[s];
    if (const unsigned limit = floor_more_needed(index, ledger, failing(s), min); limit != 0) {
      const std::string prefix = keys.index_prefix("dns");
      add_index_page(keys, "dns", index, etcd.range_at(index.next_key, prefix_end(prefix), index.revision, limit));
      continue;
    }
    const FloorDecision d = decide_floor(index, ledger, failing(s), min);
    auto t = floor_write_txn(keys, index, ledger, failing(s), d, page);
    bool done = !t;
    if (t) {
      if (strip_compares) t->compare.clear();
      const TxnResult r = etcd.txn(*t);
      if (r.succeeded) {
        done = true;
        out.lowest = std::min(out.lowest, announcing_unledgered(etcd));
      } else {
        state[s] = floor_state_from(keys, "dns", s, r).value();
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
    if (auto t = floor_write_txn(keys, index, ledger, healthy(s), d, 0)) REQUIRE(etcd.txn(*t).succeeded);
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

  // The read, one txn at one revision: the index's count, the site's own index key, the ledger's
  // keys, the index's first page.
  const Txn read = floor_read_txn(keys, "dns", "ams1", 18);
  CHECK(read.compare.empty());
  REQUIRE(read.success.size() == 4);
  for (const auto& op : read.success) CHECK(op.kind == Op::Kind::Range);
  CHECK(read.success[0].key == "/herald/prod/index/dns/");
  CHECK(read.success[0].range_end == "/herald/prod/index/dns0");
  CHECK(read.success[0].count_only);
  CHECK(read.success[1].key == "/herald/prod/index/dns/ams1");
  CHECK(read.success[1].range_end.empty());
  CHECK(read.success[2].key == "/herald/prod/floor/dns/");
  CHECK(read.success[2].range_end == "/herald/prod/floor/dns0");
  CHECK(read.success[2].keys_only);
  CHECK_FALSE(read.success[2].count_only);
  CHECK(read.success[2].limit == 0);
  CHECK(read.success[3].key == "/herald/prod/index/dns/");
  CHECK(read.success[3].range_end == "/herald/prod/index/dns0");
  CHECK(read.success[3].limit == 18);
  CHECK_FALSE(read.success[3].keys_only);  // the values are the flags
  CHECK(floor_read_txn(keys, "dns", "ams1", 0).success[3].limit == 0);  // 0: the whole index
  // The first page: floor + 16 for a count, 128 for a share (its floor needs the count first).
  CHECK(floor_page(MinSites{MinSites::Kind::Count, 2}) == 18);
  CHECK(floor_page(MinSites{MinSites::Kind::Percent, 10}) == 128);
  CHECK(floor_page(MinSites{MinSites::Kind::Count, 4294967290u}) == 4294967295u);  // saturated, not wrapped
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
  auto t = floor_write_txn(keys, v, {}, failing("e", 0x42), d, 19);
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
  // Failure branch: the floor's read with the same page, so that the loser decides again on the
  // fresh state.
  const Txn read = floor_read_txn(keys, "dns", "e", 19);
  REQUIRE(t->failure.size() == read.success.size());
  for (std::size_t i = 0; i < read.success.size(); ++i) {
    CHECK(t->failure[i].kind == Op::Kind::Range);
    CHECK(t->failure[i].key == read.success[i].key);
    CHECK(t->failure[i].range_end == read.success[i].range_end);
    CHECK(t->failure[i].limit == read.success[i].limit);
    CHECK(t->failure[i].keys_only == read.success[i].keys_only);
    CHECK(t->failure[i].count_only == read.success[i].count_only);
  }
  CHECK(t->failure[3].limit == 19);
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
  auto t = floor_write_txn(keys, v, {}, gone, forced, 0);
  REQUIRE(t);
  CHECK(t->compare.empty());
  REQUIRE(t->success.size() == 1);
  CHECK(t->success[0].kind == Op::Kind::Put);
  CHECK(t->success[0].key == keys.floor("dns", "a"));
  CHECK(t->success[0].lease == 9);
  // Withdrawing while the key exists: counted already, nothing to write.
  CHECK_FALSE(floor_write_txn(keys, v, ledger_of({"a"}), gone, forced, 0));
  CHECK_FALSE(floor_write_txn(keys, v, ledger_of({"a"}), failing("a"), decide_floor(v, ledger_of({"a"}), failing("a"), two), 0));

  // Back to health: delete the own key, no compare; nothing when there is none.
  auto back = decide_floor(v, ledger_of({"a", "b"}), healthy("a"), two);
  REQUIRE(back.verdict == Verdict::Announce);
  auto t2 = floor_write_txn(keys, v, ledger_of({"a", "b"}), healthy("a"), back, 0);
  REQUIRE(t2);
  CHECK(t2->compare.empty());
  REQUIRE(t2->success.size() == 1);
  CHECK(t2->success[0].kind == Op::Kind::Delete);
  CHECK(t2->success[0].key == keys.floor("dns", "a"));
  CHECK(t2->success[0].range_end.empty());  // b's key is b's
  CHECK_FALSE(floor_write_txn(keys, v, ledger_of({"b"}), healthy("a"), back, 0));

  // Held: nothing to write.
  auto held = decide_floor(v, {}, failing("a"), all);
  REQUIRE(held.verdict == Verdict::Hold);
  CHECK_FALSE(floor_write_txn(keys, v, {}, failing("a"), held, 0));

  // Floor 0: nothing to compare against.
  auto free = decide_floor(v, {}, failing("a"), MinSites{});
  auto t3 = floor_write_txn(keys, v, {}, failing("a"), free, 0);
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
    auto t = floor_write_txn(keys, index, ledger, failing("s06"), d, 0);
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
  auto t = floor_write_txn(keys, index, ledger, failing("s06"), d, 0);
  etcd.put(keys.floor("dns", "s02"), ledger_value());
  CHECK_FALSE(etcd.txn(*t).succeeded);
  // A recovery inside the span (a ledger key deleted) is no conflict: it only raises the count.
  etcd.put(keys.index("dns", "s02"), index_value(true));
  auto [index2, ledger2] = read_floor(etcd);
  auto d2 = decide_floor(index2, ledger2, failing("s06"), three);
  REQUIRE(d2.witnesses == std::vector<std::string>{"s01", "s03", "s04"});
  auto t2 = floor_write_txn(keys, index2, ledger2, failing("s06"), d2, 0);
  etcd.del(keys.floor("dns", "s02"));
  CHECK(etcd.txn(*t2).succeeded);
  CHECK(etcd.has(keys.floor("dns", "s06")));
}

TEST_CASE("many sites failing at once, in any order etcd commits them: never below the floor") {
  // 12 sites, min-sites 4, all failing: exactly 8 withdraw, whatever the order; the witnesses
  // themselves fail too.
  // Page 0 reads the whole index; page 2 reads it two keys first, then pages at the read's
  // revision while other sites commit in between: the floor must hold exactly the same.
  const MinSites four{MinSites::Kind::Count, 4};
  for (unsigned page : {0u, 2u}) {
    int page_reads = 0;
    for (unsigned seed = 1; seed <= 40; ++seed) {
      CAPTURE(page);
      CAPTURE(seed);
      FakeEtcd etcd;
      const auto sites = publish_sites(etcd, 12);
      auto r = race(etcd, sites, four, seed, false, page);
      CHECK(r.withdrew() == 8);
      CHECK(r.lowest >= 4);
      CHECK(etcd.keys_under(keys.floor_prefix("dns")).size() == 8);
      for (const auto& sv : r.verdicts) CHECK(etcd.has(keys.floor("dns", sv.first)) == (sv.second == Verdict::Withdraw));
      recover_all(etcd, sites, four);
      // Again, after everyone recovered: the ledger is empty and the floor the same.
      CHECK(race(etcd, sites, four, seed + 1000, false, page).withdrew() == 8);
      page_reads += etcd.page_reads;
    }
    CHECK((page_reads > 0) == (page != 0));  // with a page of 2, the sites did page
  }
  // Half of them failing, the first six by name (every failing site's witnesses include failing
  // sites), min-sites 8: exactly 4 withdraw.
  const MinSites eight{MinSites::Kind::Count, 8};
  for (unsigned page : {0u, 2u}) {
    for (unsigned seed = 1; seed <= 40; ++seed) {
      CAPTURE(page);
      CAPTURE(seed);
      FakeEtcd etcd;
      const auto sites = publish_sites(etcd, 12);
      auto r = race(etcd, {sites.begin(), sites.begin() + 6}, eight, seed, false, page);
      CHECK(r.withdrew() == 4);
      CHECK(r.lowest >= 8);
    }
  }
  // The model can tell: without the compares, the same schedules let every failing site withdraw.
  FakeEtcd etcd;
  const auto sites = publish_sites(etcd, 12);
  auto broken = race(etcd, sites, four, 1, /*strip_compares=*/true, 2);
  CHECK(broken.withdrew() == 12);
  CHECK(broken.lowest == 0);
}

TEST_CASE("paging: not-announced and ledgered sites first, the announcing ones on the next page, all at the read's revision") {
  // a, b publish dns not announced; c, d announce but have ledger keys; e, f, g announce.
  FakeEtcd etcd;
  for (const char* n : {"a", "b"}) etcd.put(keys.index("dns", n), index_value(false));
  for (const char* n : {"c", "d", "e", "f", "g", "h"}) etcd.put(keys.index("dns", n), index_value(true));
  for (const char* n : {"c", "d"}) etcd.put(keys.floor("dns", n), ledger_value());
  auto st = floor_state_from(keys, "dns", "h", etcd.txn(floor_read_txn(keys, "dns", "h", 2))).value();
  const std::int64_t read_at = st.first.revision;
  CHECK(st.first.publishing == 8);
  CHECK_FALSE(st.first.complete);
  CHECK(st.first.next_key == keys.index("dns", "b") + std::string(1, '\0'));
  CHECK(st.first.find("h") != nullptr);  // its own key, read apart from the page
  CHECK(st.second.withdrawn == std::vector<std::string>{"c", "d"});
  // The first page alone has no announcing other: a Hold that says the rest was not read, and a
  // next page of what is missing + 16.
  const FloorDecision first = decide_floor(st.first, st.second, failing("h"), two);
  CHECK(first.verdict == Verdict::Hold);
  CHECK(first.reason.rfind("held by fleet floor", 0) == 0);
  CHECK(first.reason.find("the rest not read") != std::string::npos);
  CHECK(floor_more_needed(st.first, st.second, failing("h"), two) == 18);
  // Nothing more for a healthy site or a forced withdrawal.
  CHECK(floor_more_needed(st.first, st.second, healthy("h"), two) == 0);
  CHECK(floor_more_needed(st.first, st.second, FloorInput{"h", "dns", true, true, false, false}, two) == 0);

  // Meanwhile e stops announcing: the next page is read at the first read's revision.
  etcd.put(keys.index("dns", "e"), index_value(false));
  add_index_page(keys, "dns", st.first,
                 etcd.range_at(st.first.next_key, prefix_end(keys.index_prefix("dns")), read_at, 18));
  CHECK(st.first.complete);
  CHECK(st.first.revision == read_at);
  CHECK(st.first.sites.size() == 8);
  CHECK(floor_more_needed(st.first, st.second, failing("h"), two) == 0);
  const FloorDecision d = decide_floor(st.first, st.second, failing("h"), two);
  CHECK(d.verdict == Verdict::Withdraw);
  CHECK(d.witnesses == std::vector<std::string>{"e", "f"});  // as of the read: e still announced
  CHECK(d.others_announcing == 3);
  CHECK(d.reason == "checks fail; 3 other sites announce, floor 2");
  // The compares are against that revision: e changed since, so the txn fails, and its failure
  // branch is a fresh first page.
  auto t = floor_write_txn(keys, st.first, st.second, failing("h"), d, 2);
  REQUIRE(t);
  const TxnResult lost = etcd.txn(*t);
  CHECK_FALSE(lost.succeeded);
  auto fresh = floor_state_from(keys, "dns", "h", lost).value();
  CHECK(fresh.first.revision > read_at);
  CHECK(fresh.first.sites.size() == 3);  // a, b and its own
  read_pages(etcd, fresh, failing("h"), two);
  const FloorDecision again = decide_floor(fresh.first, fresh.second, failing("h"), two);
  CHECK(again.verdict == Verdict::Withdraw);
  CHECK(again.witnesses == std::vector<std::string>{"f", "g"});
  auto t2 = floor_write_txn(keys, fresh.first, fresh.second, failing("h"), again, 2);
  REQUIRE(t2);
  CHECK(etcd.txn(*t2).succeeded);
}

TEST_CASE("paging: a share floor that needs two pages, and this site not publishing yet") {
  // 300 sites: the first 140 by name publish dns without announcing it; zz (this site) does not
  // publish it yet, so publishing is 301 and 50% of it is 151.
  FakeEtcd etcd;
  for (int i = 0; i < 300; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "s%03d", i);
    etcd.put(keys.index("dns", name), index_value(i >= 140));
  }
  const MinSites half{MinSites::Kind::Percent, 50};
  auto st = floor_state_from(keys, "dns", "zz", etcd.txn(floor_read_txn(keys, "dns", "zz", floor_page(half)))).value();
  CHECK(st.first.publishing == 300);
  CHECK(st.first.sites.size() == 128);
  CHECK(st.first.find("zz") == nullptr);
  CHECK(decide_floor(st.first, st.second, failing("zz"), half).floor == 151);
  // 128 not announcing: the next page is what is missing + 16.
  CHECK(floor_more_needed(st.first, st.second, failing("zz"), half) == 151 + 16);
  const int before = etcd.page_reads;
  read_pages(etcd, st, failing("zz"), half);
  CHECK(etcd.page_reads - before == 1);
  CHECK(st.first.sites.size() == 128 + 167);
  CHECK_FALSE(st.first.complete);  // 5 index keys never read
  const FloorDecision d = decide_floor(st.first, st.second, failing("zz"), half);
  CHECK(d.verdict == Verdict::Withdraw);
  CHECK(d.floor == 151);
  CHECK(d.others_announcing == 155);
  CHECK(d.reason == "checks fail; at least 155 other sites announce, floor 151");
  REQUIRE(d.witnesses.size() == 151);
  CHECK(d.witnesses.front() == "s140");
  CHECK(d.witnesses.back() == "s290");
  // The same witnesses as a whole read.
  auto [full, ledger] = read_floor(etcd);
  CHECK(decide_floor(full, ledger, failing("zz"), half).witnesses == d.witnesses);
}

TEST_CASE("paging: this site's own key counts as publishing wherever it sorts") {
  // Five sites, zz (this one) last by name, a page of 2: its own key is read apart, so the share
  // floor counts 5 sites, not 5 + 1.
  FakeEtcd etcd;
  for (const char* n : {"a", "b", "c", "d", "zz"}) etcd.put(keys.index("dns", n), index_value(true));
  const MinSites all{MinSites::Kind::Percent, 100};
  auto st = floor_state_from(keys, "dns", "zz", etcd.txn(floor_read_txn(keys, "dns", "zz", 2))).value();
  CHECK(st.first.publishing == 5);
  CHECK(st.first.find("zz") != nullptr);
  CHECK(decide_floor(st.first, st.second, failing("zz"), all).floor == 5);
  // Not publishing yet: 4 others and itself.
  etcd.del(keys.index("dns", "zz"));
  auto st2 = floor_state_from(keys, "dns", "zz", etcd.txn(floor_read_txn(keys, "dns", "zz", 2))).value();
  CHECK(st2.first.publishing == 4);
  CHECK(st2.first.find("zz") == nullptr);
  CHECK(decide_floor(st2.first, st2.second, failing("zz"), all).floor == 5);
  // All four others announce, floor 5 (100% of 5): after every page, a Hold with the exact count.
  read_pages(etcd, st2, failing("zz"), all);
  CHECK(st2.first.complete);
  const FloorDecision d = decide_floor(st2.first, st2.second, failing("zz"), all);
  CHECK(d.verdict == Verdict::Hold);
  CHECK(d.reason == "held by fleet floor: checks fail but only 4 other sites announce dns, floor 5 (min-sites 100%)");
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

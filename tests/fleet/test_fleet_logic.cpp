#include <doctest/doctest.h>

#include "fleet/drain.hpp"
#include "fleet/floor.hpp"
#include "fleet/member.hpp"

using namespace herald::fleet;

namespace {

const Keys keys("prod");

SiteState site(std::string name, std::string region, bool announced, std::string state = "up") {
  return SiteState{std::move(name), std::move(region), "0.1.0",
                   {ServiceState{"dns", std::move(state), announced, "", 1700000000}}};
}

// A view as etcd would return it: key per site, mod revisions 10, 11, ...
FleetView view_of(const std::vector<SiteState>& sites) {
  RangeResult r;
  r.revision = 100;
  std::int64_t rev = 10;
  for (const auto& s : sites) r.kvs.push_back(KeyValue{keys.site(s.site), to_json(s), rev, rev, 1, 7}), ++rev;
  return view_from_range(keys, r);
}

// The floor's index of dns as etcd would return it: one key per site, mod revisions 10, 11, ...
ServiceIndex index_of(const std::vector<SiteState>& sites) {
  RangeResult r;
  r.revision = 100;
  std::int64_t rev = 10;
  for (const auto& s : sites)
    r.kvs.push_back(KeyValue{keys.index("dns", s.site), index_value(s.services[0].announced), rev, rev, 1, 7}), ++rev;
  return index_from_range(keys, "dns", r);
}

FloorInput failing(std::string s) { return FloorInput{std::move(s), "dns", true, false, false, false}; }

}  // namespace

TEST_CASE("key layout: everything under /herald/<fleet>/, names cannot contain '/'") {
  CHECK(keys.site("ams1") == "/herald/prod/sites/ams1");
  CHECK(keys.desired_region("dns", "eu") == "/herald/prod/desired/dns/region/eu");
  CHECK(keys.desired_all("dns") == "/herald/prod/desired/dns/all");
  CHECK(keys.floor("dns") == "/herald/prod/floor/dns");
  CHECK(valid_name("ams-1.eu_x"));
  CHECK_FALSE(valid_name("a/b"));
  CHECK_FALSE(valid_name(""));
  CHECK_FALSE(valid_name(".."));
}

TEST_CASE("site state round-trips through JSON; bad names and bad JSON are refused") {
  SiteState s = site("ams1", "eu", true);
  s.services[0].reason = "check dns ok";
  CHECK(site_state_from_json(to_json(s)).value() == s);
  CHECK_FALSE(site_state_from_json(R"({"site":"../x"})"));
  CHECK_FALSE(site_state_from_json(R"({"region":"eu"})"));
  CHECK_FALSE(site_state_from_json("{"));
}

TEST_CASE("the view skips a key whose content names another site, and reports it") {
  RangeResult r;
  r.revision = 9;
  r.kvs.push_back(KeyValue{keys.site("b"), to_json(site("b", "eu", true)), 3, 3, 1, 0});
  r.kvs.push_back(KeyValue{keys.site("a"), to_json(site("evil", "eu", true)), 4, 4, 1, 0});
  r.kvs.push_back(KeyValue{keys.site("c"), "not json", 5, 5, 1, 0});
  FleetView v = view_from_range(keys, r);
  REQUIRE(v.sites.size() == 1);
  CHECK(v.sites[0].state.site == "b");
  CHECK(v.problems.size() == 2);
}

TEST_CASE("fleet status rows: filtered by service, sorted by service then site") {
  SiteState a = site("b-site", "eu", true);
  a.services.push_back(ServiceState{"auth", "down", false, "check failed", 5});
  FleetView v = view_of({a, site("a-site", "us", false, "drained")});
  auto rows = status_rows(v);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].service == "auth");
  CHECK(rows[1].site == "a-site");
  CHECK(rows[1].state == "drained");
  CHECK(status_rows(v, "auth").size() == 1);
  CHECK(status_json(v, "auth").find(R"("reason":"check failed")") != std::string::npos);
}

TEST_CASE("drain targets: a site, a region, or all; keys map back to targets") {
  FleetView v = view_of({site("ams1", "eu", true), site("fra1", "eu", true), site("nyc1", "us", true),
                         SiteState{"lon1", "eu", "0.1.0", {}}});  // lon1 does not run the service
  using S = DrainTarget::Scope;
  CHECK(affected_sites(v, "dns", {S::Region, "eu"}) == std::vector<std::string>{"ams1", "fra1"});
  CHECK(affected_sites(v, "dns", {S::Site, "nyc1"}) == std::vector<std::string>{"nyc1"});
  CHECK(affected_sites(v, "dns", {S::All, {}}).size() == 3);
  CHECK_FALSE(affects({S::Region, "eu"}, "x", ""));  // a site without a region is in no region
  for (DrainTarget t : {DrainTarget{S::Site, "ams1"}, DrainTarget{S::Region, "eu"}, DrainTarget{S::All, {}}})
    CHECK(target_of_key(keys, "dns", desired_key(keys, "dns", t)) == t);
  CHECK_FALSE(target_of_key(keys, "dns", keys.desired_all("auth")));
  CHECK_FALSE(target_of_key(keys, "dns", "/herald/prod/desired/dns/site/a/b"));
}

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

TEST_CASE("the floor: a failing site withdraws while enough others announce, holds otherwise") {
  const MinSites two{MinSites::Kind::Count, 2};
  ServiceIndex v = index_of({site("a", "eu", true), site("b", "eu", true), site("c", "us", true)});
  Ledger empty;
  auto d = decide_floor(v, empty, failing("a"), two);
  CHECK(d.verdict == Verdict::Withdraw);
  CHECK(d.witnesses == std::vector<std::string>{"b", "c"});

  Ledger a_gone{50, {"a"}};
  auto held = decide_floor(v, a_gone, failing("b"), two);
  CHECK(held.verdict == Verdict::Hold);
  CHECK(held.others_announcing == 1);  // c; a is in the ledger although it still says announced
  CHECK(held.reason.rfind("held by fleet floor", 0) == 0);
}

TEST_CASE("the floor never holds a site whose process or address is gone, nor against a drain") {
  const MinSites all{MinSites::Kind::Percent, 100};
  ServiceIndex v = index_of({site("a", "eu", true), site("b", "eu", true)});
  for (auto in : {FloorInput{"a", "dns", true, true, false, false}, FloorInput{"a", "dns", true, false, true, false},
                  FloorInput{"a", "dns", false, false, false, true}}) {
    auto d = decide_floor(v, {}, in, all);
    CHECK(d.verdict == Verdict::Withdraw);
    CHECK(d.forced);
  }
  CHECK(decide_floor(v, {}, failing("a"), all).verdict == Verdict::Hold);
  CHECK(decide_floor(v, {}, FloorInput{"a", "dns"}, all).verdict == Verdict::Announce);
}

TEST_CASE("the floor write txn: ledger compare-and-swap plus one compare per witness") {
  const MinSites two{MinSites::Kind::Count, 2};
  ServiceIndex v = index_of({site("a", "eu", true), site("b", "eu", true), site("c", "us", true)});
  auto d = decide_floor(v, {}, failing("a"), two);
  auto t = floor_write_txn(keys, v, {}, failing("a"), d);
  REQUIRE(t);
  REQUIRE(t->compare.size() == 3);
  CHECK(t->compare[0].key == keys.floor("dns"));
  CHECK(t->compare[0].target == Compare::Target::Version);  // the ledger does not exist yet
  CHECK(t->compare[1].key == keys.index("dns", "b"));  // the witness's index key, not its whole state
  CHECK(t->compare[1].number == 11);
  CHECK(t->compare[2].number == 12);
  REQUIRE(t->success.size() == 1);
  CHECK(t->success[0].value == R"({"withdrawn":["a"]})");
  CHECK(t->failure.size() == 2);  // the same read as floor_read_txn: a loser gets the fresh state

  // Back to health: leave the ledger; a dead site's entry (x, not in the view) is dropped too.
  Ledger l{60, {"a", "x"}};
  auto back = decide_floor(v, l, FloorInput{"a", "dns"}, two);
  auto t2 = floor_write_txn(keys, v, l, FloorInput{"a", "dns"}, back);
  REQUIRE(t2);
  CHECK(t2->compare.size() == 1);
  CHECK(t2->compare[0].number == 60);
  CHECK(t2->success[0].value == R"({"withdrawn":[]})");
  // Nothing to write: held, or healthy and not in the ledger.
  CHECK_FALSE(floor_write_txn(keys, v, {}, FloorInput{"a", "dns"}, back));
}

TEST_CASE("three sites failing at once with min-sites 2: the txns serialise, one withdraws") {
  // A model of etcd's serialisation: each site decided on the same read; the first txn to commit
  // changes the ledger, so the others' compares fail and they decide again on the new state.
  const MinSites two{MinSites::Kind::Count, 2};
  ServiceIndex v = index_of({site("a", "eu", true), site("b", "eu", true), site("c", "us", true)});
  Ledger ledger;
  std::int64_t rev = 100;
  int withdrawn = 0, held = 0;
  for (std::string s : {"c", "a", "b"}) {
    auto d = decide_floor(v, ledger, failing(s), two);
    if (d.verdict == Verdict::Hold) {
      ++held;
      continue;
    }
    auto t = floor_write_txn(keys, v, ledger, failing(s), d);
    REQUIRE(t);
    ledger.withdrawn.push_back(s);
    ledger.mod_revision = ++rev;
    ++withdrawn;
  }
  CHECK(withdrawn == 1);
  CHECK(held == 2);
}

TEST_CASE("the floor reads the service's index: one small key per site, a bad key reported and skipped") {
  CHECK(keys.index("dns", "ams1") == "/herald/prod/index/dns/ams1");
  const Txn read = floor_read_txn(keys, "dns");
  REQUIRE(read.success.size() == 2);
  CHECK(read.success[0].key == "/herald/prod/index/dns/");
  CHECK(read.success[0].range_end == "/herald/prod/index/dns0");
  CHECK(read.success[1].key == keys.floor("dns"));

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

TEST_CASE("the publish txn writes the state, the index flags that changed and the member record at once") {
  SiteState s = site("a", "eu", true);
  s.services.push_back(ServiceState{"ntp", "down", false, "", 1700000000});
  const Member m = member_of(s, std::nullopt, 1800000000);
  CHECK(m.services == std::vector<std::string>{"dns", "ntp"});
  CHECK(m.first_seen == 1800000000);

  // First publication under lease 7: everything.
  Txn t = publish_txn(keys, s, std::nullopt, {}, 7, m);
  CHECK(t.compare.empty());
  REQUIRE(t.success.size() == 4);
  CHECK(t.success[0].key == keys.site("a"));
  CHECK(t.success[0].lease == 7);
  CHECK(t.success[1].key == keys.index("dns", "a"));
  CHECK(t.success[1].value == "announced");
  CHECK(t.success[1].lease == 7);
  CHECK(t.success[2].value == "not-announced");
  CHECK(t.success[3].key == keys.member("a"));
  CHECK(t.success[3].lease == 0);  // the member record outlives the lease
  CHECK(member_from_json(t.success[3].value).value() == m);

  // A new reason only: the state, not the index (the witnesses' compares stay valid).
  SiteState s2 = s;
  s2.services[0].reason = "check dns slow";
  Txn t2 = publish_txn(keys, s2, s, index_flags(s), 7, std::nullopt);
  REQUIRE(t2.success.size() == 1);
  CHECK(t2.success[0].key == keys.site("a"));

  // dns withdrawn, ntp gone: its flag rewritten, ntp's key deleted.
  SiteState s3 = site("a", "eu", false, "down");
  Txn t3 = publish_txn(keys, s3, s, index_flags(s), 7, std::nullopt);
  REQUIRE(t3.success.size() == 3);
  CHECK(t3.success[1].value == "not-announced");
  CHECK(t3.success[2].kind == Op::Kind::Delete);
  CHECK(t3.success[2].key == keys.index("ntp", "a"));
  CHECK_FALSE(member_matches(m, s3));  // ntp gone: the record is rewritten
  CHECK(member_matches(m, s2));

  // first_seen survives a restart; last_seen moves.
  const Member later = member_of(s, m, 1800003600);
  CHECK(later.first_seen == 1800000000);
  CHECK(later.last_seen == 1800003600);
  CHECK_FALSE(member_from_json(R"({"site":"../x"})"));
}

TEST_CASE("forget deletes a member record only while its site is not live") {
  Txn t = forget_txn(keys, "a");
  REQUIRE(t.compare.size() == 2);
  CHECK(t.compare[0].key == keys.site("a"));
  CHECK(t.compare[0].target == Compare::Target::Version);
  CHECK(t.compare[0].number == 0);  // no live key
  CHECK(t.compare[1].key == keys.member("a"));
  CHECK(t.compare[1].result == Compare::Result::Greater);
  REQUIRE(t.success.size() == 1);
  CHECK(t.success[0].kind == Op::Kind::Delete);
  CHECK(t.failure.size() == 2);
}

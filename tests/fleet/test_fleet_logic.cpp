#include <doctest/doctest.h>

#include "fleet/drain.hpp"
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

}  // namespace

TEST_CASE("key layout: everything under /herald/<fleet>/, names cannot contain '/'") {
  CHECK(keys.site("ams1") == "/herald/prod/sites/ams1");
  CHECK(keys.desired_region("dns", "eu") == "/herald/prod/desired/dns/region/eu");
  CHECK(keys.desired_all("dns") == "/herald/prod/desired/dns/all");
  CHECK(keys.floor("dns", "ams1") == "/herald/prod/floor/dns/ams1");
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
  // With the site's floor ledger keys: deleted in the same txn, under the same compares.
  Txn t2 = forget_txn(keys, "a", {keys.floor("dns", "a"), keys.floor("ntp", "a")});
  CHECK(t2.compare.size() == 2);
  REQUIRE(t2.success.size() == 3);
  CHECK(t2.success[1].kind == Op::Kind::Delete);
  CHECK(t2.success[1].key == "/herald/prod/floor/dns/a");
  CHECK(t2.success[1].range_end.empty());  // that key alone
  CHECK(t2.success[2].key == "/herald/prod/floor/ntp/a");
}

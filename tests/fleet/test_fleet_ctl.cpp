// heraldctl fleet's pure parts: the drain check against the floor, its txns, and the status report.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "fleet/drain.hpp"
#include "fleet/drain_check.hpp"
#include "fleet/member.hpp"
#include "fleet/status_report.hpp"

using namespace herald::fleet;
using S = DrainTarget::Scope;

namespace {

const Keys keys("prod");

SiteState site(std::string name, std::string region, bool announced, std::optional<double> qps = std::nullopt) {
  ServiceState sv{"dns", announced ? "up" : "down", announced, announced ? "check ok" : "check failed", 1700000000};
  sv.qps = qps;
  return SiteState{std::move(name), std::move(region), "0.1.0", {sv}};
}

KeyValue site_kv(const SiteState& s, std::int64_t rev) { return KeyValue{keys.site(s.site), to_json(s), rev, rev, 1, 7}; }

// The answer etcd gives to service_read_txn at revision 100: sites (mod revisions 10, 11, ...),
// their index keys of dns (mod revisions 20, 21, ...), the ledger keys of the sites that withdrew,
// the desired keys.
TxnResult answer(const std::vector<SiteState>& sites, std::vector<std::string> withdrawn = {},
                 std::vector<std::pair<std::string, std::string>> desired = {}) {
  TxnResult r;
  r.succeeded = true;
  r.revision = 100;
  RangeResult s, i, l, d;
  std::int64_t rev = 10;
  for (const auto& x : sites) {
    s.kvs.push_back(site_kv(x, rev));
    if (const ServiceState* sv = x.service("dns"))
      i.kvs.push_back(KeyValue{keys.index("dns", x.site), index_value(sv->announced), rev + 10, rev + 10, 1, 7});
    ++rev;
  }
  for (const auto& w : withdrawn) l.kvs.push_back(KeyValue{keys.floor("dns", w), ledger_value(), 50, 50, 1, 7});
  for (auto& [k, v] : desired) d.kvs.push_back(KeyValue{k, v, 60, 60, 1, 0});
  r.ranges = {s, i, l, d};
  return r;
}

ServiceSnapshot snap(const TxnResult& r) { return service_snapshot_from(keys, "dns", r).value(); }

const std::vector<SiteState> four = {site("ams1", "eu", true), site("fra1", "eu", true), site("nyc1", "us", true),
                                     site("sfo1", "us", true)};

std::string drain_value() { return to_json(DesiredDrain{"maintenance", "ops@h", 1700000100}); }

}  // namespace

TEST_CASE("drain check: a region drain that leaves the floor is allowed, with floor witnesses") {
  auto c = check_drain(snap(answer(four)), "dns", {S::Region, "eu"}, MinSites{MinSites::Kind::Count, 2});
  CHECK(c.allowed);
  CHECK(c.floor == 2);
  CHECK(c.publishing == 4);
  CHECK(c.affected == std::vector<std::string>{"ams1", "fra1"});
  CHECK(c.remaining == std::vector<std::string>{"nyc1", "sfo1"});
  CHECK(c.witnesses == std::vector<std::string>{"nyc1", "sfo1"});
}

TEST_CASE("drain check: below the floor is refused and says by how much") {
  auto c = check_drain(snap(answer(four)), "dns", {S::Region, "eu"}, MinSites{MinSites::Kind::Count, 3});
  CHECK_FALSE(c.allowed);
  CHECK(c.reason == "a drain of dns at region eu would leave 2 of 4 sites announcing dns, floor 3 (min-sites 3)");
  // A share: 75% of 4 sites is 3.
  CHECK_FALSE(check_drain(snap(answer(four)), "dns", {S::Region, "eu"}, MinSites{MinSites::Kind::Percent, 75}).allowed);
  CHECK(check_drain(snap(answer(four)), "dns", {S::Region, "eu"}, MinSites{MinSites::Kind::Percent, 50}).allowed);
  // --all always takes every announcing site: refused with any floor above 0.
  CHECK_FALSE(check_drain(snap(answer(four)), "dns", {S::All, {}}, MinSites{MinSites::Kind::Count, 1}).allowed);
  CHECK(check_drain(snap(answer(four)), "dns", {S::All, {}}, MinSites{}).allowed);
}

TEST_CASE("drain check: withdrawn (ledger), not announced and already drained sites do not count") {
  // ams1 withdrew (ledger), nyc1 publishes down, sfo1 is drained by a site drain: only fra1 counts.
  auto s = snap(answer({site("ams1", "eu", true), site("fra1", "eu", true), site("nyc1", "us", false),
                        site("sfo1", "us", true)},
                       {"ams1"}, {{keys.desired_site("dns", "sfo1"), drain_value()}}));
  REQUIRE(s.drains.size() == 1);
  CHECK(s.drains[0].target == DrainTarget{S::Site, "sfo1"});
  CHECK(s.drains[0].drain.reason == "maintenance");
  auto c = check_drain(s, "dns", {S::Site, "fra1"}, MinSites{MinSites::Kind::Count, 1});
  CHECK(c.announcing == std::vector<std::string>{"fra1"});
  CHECK_FALSE(c.allowed);
  // Draining sites that announce nothing takes nothing away: allowed even below the floor.
  auto c2 = check_drain(s, "dns", {S::Region, "us"}, MinSites{MinSites::Kind::Count, 2});
  CHECK(c2.allowed);
  CHECK(c2.affected == std::vector<std::string>{"nyc1", "sfo1"});
}

TEST_CASE("drain check: a drain key that cannot be read still drains, and is reported") {
  auto s = snap(answer(four, {}, {{keys.desired_region("dns", "us"), "{oops"}}));
  REQUIRE(s.drains.size() == 1);
  CHECK(s.view.problems.size() == 1);
  auto c = check_drain(s, "dns", {S::Site, "ams1"}, MinSites{MinSites::Kind::Count, 2});
  CHECK(c.remaining == std::vector<std::string>{"fra1"});
  CHECK_FALSE(c.allowed);
}

TEST_CASE("drain txn: writes exactly the desired key, guarded by the service's drains and the floor's witness compares") {
  auto s = snap(answer(four, {"nyc1"}));
  CHECK(s.ledger.withdrawn == std::vector<std::string>{"nyc1"});
  auto c = check_drain(s, "dns", {S::Site, "ams1"}, MinSites{MinSites::Kind::Count, 2});
  REQUIRE(c.allowed);
  REQUIRE(c.witnesses == std::vector<std::string>{"fra1", "sfo1"});
  Txn t = drain_txn(keys, "dns", {S::Site, "ams1"}, DesiredDrain{"r", "me", 5}, s, c, false);
  REQUIRE(t.success.size() == 1);
  CHECK(t.success[0].kind == Op::Kind::Put);
  CHECK(t.success[0].key == "/herald/prod/desired/dns/site/ams1");
  CHECK(t.success[0].lease == 0);  // an operator's wish outlives every herald
  CHECK(desired_drain_from_json(t.success[0].value).value().reason == "r");
  REQUIRE(t.compare.size() == 4);
  CHECK(t.compare[0].key == "/herald/prod/desired/dns/");
  CHECK(t.compare[0].range_end == "/herald/prod/desired/dns0");
  CHECK(t.compare[0].result == Compare::Result::Less);
  CHECK(t.compare[0].number == 101);  // nothing written after the read at 100
  // Each witness's index key as read (not its whole state: a new reason or qps is no conflict).
  CHECK(t.compare[1].key == keys.index("dns", "fra1"));
  CHECK(t.compare[1].target == Compare::Target::Mod);
  CHECK(t.compare[1].result == Compare::Result::Equal);
  CHECK(t.compare[1].number == 21);
  CHECK(t.compare[2].key == keys.index("dns", "sfo1"));
  CHECK(t.compare[2].number == 23);
  // No ledger key of the witnesses' span fra1 .. sfo1 created or changed since the read (nyc1's,
  // in the span, was written before it).
  CHECK(t.compare[3].key == "/herald/prod/floor/dns/fra1");
  CHECK(t.compare[3].range_end == keys.floor("dns", "sfo1") + std::string(1, '\0'));
  CHECK(t.compare[3].target == Compare::Target::Mod);
  CHECK(t.compare[3].result == Compare::Result::Less);
  CHECK(t.compare[3].number == 101);
  CHECK(t.failure.size() == 4);  // the read again
  // Forced: no compare at all.
  CHECK(drain_txn(keys, "dns", {S::All, {}}, DesiredDrain{}, s, c, true).compare.empty());
  // Floor 0: no witness, only the drains' compare.
  auto s0 = snap(answer(four));
  Txn t0 = drain_txn(keys, "dns", {S::Site, "ams1"}, DesiredDrain{}, s0,
                     check_drain(s0, "dns", {S::Site, "ams1"}, MinSites{}), false);
  REQUIRE(t0.compare.size() == 1);
  CHECK(t0.compare[0].key == "/herald/prod/desired/dns/");
}

TEST_CASE("drain check: the read is the sites, the index, the ledger keys and the drains of the service") {
  const Txn read = service_read_txn(keys, "dns");
  REQUIRE(read.success.size() == 4);
  CHECK(read.success[0].key == "/herald/prod/sites/");
  CHECK(read.success[1].key == "/herald/prod/index/dns/");
  CHECK(read.success[1].range_end == "/herald/prod/index/dns0");
  CHECK(read.success[2].key == "/herald/prod/floor/dns/");
  CHECK(read.success[2].range_end == "/herald/prod/floor/dns0");
  CHECK(read.success[3].key == "/herald/prod/desired/dns/");
  // A site counts as announcing only when its index key says so too (the witness compares guard
  // the index key): here sfo1's state says announced, its index key not.
  TxnResult r = answer(four);
  r.ranges[1].kvs.back().value = "not-announced";
  auto c = check_drain(snap(r), "dns", {S::Site, "ams1"}, MinSites{MinSites::Kind::Count, 2});
  CHECK(c.announcing == std::vector<std::string>{"ams1", "fra1", "nyc1"});
  CHECK(c.witnesses == std::vector<std::string>{"fra1", "nyc1"});
  // Two ledger keys, of every value: both count as withdrawn.
  TxnResult r2 = answer(four, {"fra1", "nyc1"});
  r2.ranges[2].kvs[0].value = "anything";
  auto c2 = check_drain(snap(r2), "dns", {S::Site, "ams1"}, MinSites{MinSites::Kind::Count, 1});
  CHECK(c2.remaining == std::vector<std::string>{"sfo1"});
}

TEST_CASE("undrain txn: deletes the key only if it exists, else reads the drains") {
  Txn t = undrain_txn(keys, "dns", {S::Region, "eu"});
  REQUIRE(t.compare.size() == 1);
  CHECK(t.compare[0].key == "/herald/prod/desired/dns/region/eu");
  CHECK(t.compare[0].target == Compare::Target::Version);
  CHECK(t.compare[0].result == Compare::Result::Greater);
  REQUIRE(t.success.size() == 1);
  CHECK(t.success[0].kind == Op::Kind::Delete);
  CHECK(t.success[0].range_end.empty());  // that key, not a prefix
  CHECK(t.failure.size() == 4);
}

TEST_CASE("status report: rows, load shares from published qps, drains of every service, problems") {
  TxnResult r;
  r.revision = 77;
  RangeResult sites, desired;
  sites.kvs = {site_kv(site("ams1", "eu", true, 300), 10), site_kv(site("fra1", "eu", true, 100), 11),
               site_kv(site("nyc1", "", false), 12), KeyValue{keys.site("bad"), "{", 13, 13, 1, 0}};
  desired.kvs = {KeyValue{keys.desired_region("dns", "eu"), drain_value(), 20, 20, 1, 0},
                 KeyValue{keys.desired_all("auth"), drain_value(), 21, 21, 1, 0},
                 KeyValue{keys.desired_prefix() + "dns/nonsense", "{}", 22, 22, 1, 0}};
  r.ranges = {sites, desired, RangeResult{}};
  auto st = fleet_status_from(keys, r).value();
  CHECK(st.drains.size() == 2);
  CHECK(st.view.problems.size() == 2);  // the bad site, the nonsense key

  auto rows = status_rows(st.view, "dns");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].load_share.value() == doctest::Approx(0.75));
  CHECK(rows[1].load_share.value() == doctest::Approx(0.25));
  CHECK_FALSE(rows[2].load_share);  // publishes no counter

  const std::string text = status_text(st, "prod", "dns", 1700000000 + 300);
  CHECK(text.find("fleet prod at etcd revision 77: 3 sites publishing\n") == 0);
  CHECK(text.find("SERVICE  SITE  REGION  STATE  ANNOUNCED  SINCE") != std::string::npos);
  CHECK(text.find("dns      ams1  eu      up     yes        2023-11-14T22:13:20Z (5m)  75.0%  0.1.0    check ok\n") !=
        std::string::npos);
  CHECK(text.find("dns      nyc1  -       down   no         2023-11-14T22:13:20Z (5m)  -      0.1.0    check failed\n") !=
        std::string::npos);
  CHECK(text.find("dns      region eu  2023-11-14T22:15:00Z  ops@h  maintenance") != std::string::npos);
  CHECK(text.find("auth") == std::string::npos);  // only dns asked
  CHECK(text.find("problem: /herald/prod/sites/bad: malformed site state") != std::string::npos);

  auto j = nlohmann::json::parse(status_report_json(st, "prod", ""));
  CHECK(j["fleet"] == "prod");
  CHECK(j["revision"] == 77);
  CHECK(j["sites"].size() == 3);
  CHECK(j["sites"][0]["load_share"].get<double>() == doctest::Approx(0.75));
  CHECK(j["sites"][2]["load_share"].is_null());
  REQUIRE(j["drains"].size() == 2);
  CHECK(j["drains"][0]["service"] == "auth");
  CHECK(j["drains"][0]["scope"] == "all");
  CHECK(j["drains"][1]["key"] == "/herald/prod/desired/dns/region/eu");
  CHECK(j["drains"][1]["by"] == "ops@h");
}

TEST_CASE("status report: a member record without a live site key is an unknown site, with when it was last seen") {
  TxnResult r;
  r.revision = 80;
  RangeResult sites, members;
  sites.kvs = {site_kv(site("ams1", "eu", true), 10)};
  const Member ams1{"ams1", "eu", {"dns"}, 1600000000, 1700000000};
  const Member nyc1{"nyc1", "us", {"auth", "dns"}, 1600000000, 1700000000 - 3600};
  const Member evil{"other", "us", {"dns"}, 1, 1};
  members.kvs = {KeyValue{keys.member("ams1"), to_json(ams1), 5, 5, 1, 0},
                 KeyValue{keys.member("nyc1"), to_json(nyc1), 6, 6, 1, 0},
                 KeyValue{keys.member("zzz"), to_json(evil), 7, 7, 1, 0},
                 KeyValue{keys.member("bad"), "{", 8, 8, 1, 0}};
  r.ranges = {sites, RangeResult{}, members};
  auto st = fleet_status_from(keys, r).value();
  REQUIRE(st.unknown.size() == 1);  // ams1 is live; zzz names another site; bad is not JSON
  CHECK(st.unknown[0].site == "nyc1");
  CHECK(st.view.problems.size() == 2);

  const std::string text = status_text(st, "prod", "dns", 1700000000 + 300);
  CHECK(text.find("fleet prod at etcd revision 80: 1 sites publishing, 1 unknown\n") == 0);
  CHECK(text.find("dns      nyc1  us      unknown  ?          last seen 2023-11-14T21:13:20Z (65m)  -     -        no live key") !=
        std::string::npos);
  CHECK(text.find("auth") == std::string::npos);

  auto j = nlohmann::json::parse(status_report_json(st, "prod", ""));
  REQUIRE(j["sites"].size() == 3);  // ams1 dns; nyc1 auth and dns, sorted by service then site
  CHECK(j["sites"][0]["service"] == "auth");
  CHECK(j["sites"][0]["state"] == "unknown");
  CHECK(j["sites"][0]["announced"].is_null());
  CHECK(j["sites"][0]["last_seen"] == 1700000000 - 3600);
  CHECK(j["sites"][1]["site"] == "ams1");
  CHECK(j["sites"][2]["site"] == "nyc1");
}

TEST_CASE("published qps round-trips; a negative or non-numeric qps is refused") {
  SiteState s = site("ams1", "eu", true, 12.5);
  CHECK(site_state_from_json(to_json(s)).value() == s);
  CHECK(to_json(site("ams1", "eu", true)).find("qps") == std::string::npos);
  CHECK_FALSE(site_state_from_json(R"({"site":"a","services":[{"name":"dns","qps":-1}]})"));
  CHECK_FALSE(site_state_from_json(R"({"site":"a","services":[{"name":"dns","qps":"many"}]})"));
}

TEST_CASE("times written by others: a whole number that fits, or the record is refused (found by fuzz_fleet_json)") {
  // nlohmann's value<int64_t> on 1e32 was undefined behaviour (UBSan: outside the range of long).
  CHECK(site_state_from_json(R"({"site":"a","services":[{"name":"dns","since":1796560000}]})")->services[0].since ==
        1796560000);
  CHECK_FALSE(site_state_from_json(R"({"site":"a","services":[{"name":"dns","since":1.79656e32}]})"));
  CHECK_FALSE(site_state_from_json(R"({"site":"a","services":[{"name":"dns","since":18446744073709551615}]})"));
  CHECK_FALSE(site_state_from_json(R"({"site":"a","services":[{"name":"dns","since":"now"}]})"));
  CHECK(member_from_json(R"({"site":"a","first_seen":1,"last_seen":2})")->last_seen == 2);
  CHECK_FALSE(member_from_json(R"({"site":"a","first_seen":1.79656e32})"));
  CHECK(desired_drain_from_json(R"({"drain":true,"since":5})")->since == 5);
  CHECK_FALSE(desired_drain_from_json(R"({"drain":true,"since":-1e300})"));
}

TEST_CASE("ages and times for the table") {
  CHECK(utc_time(0) == "-");
  CHECK(utc_time(1700000000) == "2023-11-14T22:13:20Z");
  CHECK(age(-5) == "0s");
  CHECK(age(119) == "119s");
  CHECK(age(600) == "10m");
  CHECK(age(3 * 3600) == "3h");
  CHECK(age(3 * 86400) == "3d");
}

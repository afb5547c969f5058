// The query counters' pure part: the nft script herald runs, nft's JSON answer, the rates, and
// when a rate is worth a write to the fleet; and QueryCounterTable against a fake nft.
#include <doctest/doctest.h>

#include <string>

#include "counters/nft_backend.hpp"
#include "counters/query_counters.hpp"

using namespace herald::counters;
using namespace std::chrono_literals;

namespace {

const Target kDnsV4{"dns", "192.0.2.53", false, 32, 53};
const Target kDnsV6{"dns", "2001:db8:53::53", true, 128, 53};
const Target kNtp{"ntp", "198.51.100.0", false, 24, 5353};

// Records every script; answers with `answer` or fails with `fail`.
struct FakeNft : NftBackend {
  std::vector<std::string> scripts;
  std::string answer;
  std::optional<std::string> fail;
  herald::Expected<std::string, std::string> run(const std::string& script, bool) override {
    scripts.push_back(script);
    if (fail) return herald::unexpected(*fail);
    return answer;
  }
};

}  // namespace

TEST_CASE("each address gets a UDP and a TCP counter with an nft-safe name; a shared address counts once") {
  auto c = counters_of({kDnsV4, kDnsV6, kNtp, Target{"other", "192.0.2.53", false, 32, 53}});
  REQUIRE(c.size() == 6);
  CHECK(c[0].name() == "q_192.0.2.53_32_53_udp");
  CHECK(c[1].name() == "q_192.0.2.53_32_53_tcp");
  CHECK(c[2].name() == "q_2001-db8-53--53_128_53_udp");  // no ':' in an nft identifier
  CHECK(c[0].address_label() == "192.0.2.53");
  CHECK(c[2].address_label() == "2001:db8:53::53");
  CHECK(c[4].address_label() == "198.51.100.0/24");
  CHECK(c[4].target.service == "ntp");
}

TEST_CASE("the first install replaces any table left behind and adds every counter and rule") {
  const auto s = install_script(counters_of({kDnsV4, kNtp}), {}, true);
  CHECK(s ==
        "add table inet herald\n"
        "delete table inet herald\n"
        "add table inet herald\n"
        "add chain inet herald input { type filter hook input priority -150; policy accept; }\n"
        "flush chain inet herald input\n"
        "add counter inet herald q_192.0.2.53_32_53_udp\n"
        "add counter inet herald q_192.0.2.53_32_53_tcp\n"
        "add counter inet herald q_198.51.100.0_24_5353_udp\n"
        "add counter inet herald q_198.51.100.0_24_5353_tcp\n"
        "add rule inet herald input ip daddr 192.0.2.53 udp dport 53 counter name q_192.0.2.53_32_53_udp\n"
        "add rule inet herald input ip daddr 192.0.2.53 tcp dport 53 tcp flags & (syn | ack) == syn counter name "
        "q_192.0.2.53_32_53_tcp\n"
        "add rule inet herald input ip daddr 198.51.100.0/24 udp dport 5353 counter name q_198.51.100.0_24_5353_udp\n"
        "add rule inet herald input ip daddr 198.51.100.0/24 tcp dport 5353 tcp flags & (syn | ack) == syn counter "
        "name q_198.51.100.0_24_5353_tcp\n");
}

TEST_CASE("a reload keeps the counters it still wants (their values), adds new ones, deletes the others after the rules") {
  const auto s = install_script(counters_of({kDnsV4, kDnsV6}),
                                {"q_192.0.2.53_32_53_udp", "q_192.0.2.53_32_53_tcp", "q_198.51.100.0_24_5353_udp",
                                 "q_198.51.100.0_24_5353_tcp"},
                                false);
  CHECK(s.find("delete table") == std::string::npos);
  CHECK(s.find("add counter inet herald q_192.0.2.53_32_53_udp") == std::string::npos);
  CHECK(s.find("add counter inet herald q_2001-db8-53--53_128_53_udp\n") != std::string::npos);
  CHECK(s.find("add rule inet herald input ip6 daddr 2001:db8:53::53 udp dport 53 counter name "
               "q_2001-db8-53--53_128_53_udp\n") != std::string::npos);
  const auto flush = s.find("flush chain");
  const auto del = s.find("delete counter inet herald q_198.51.100.0_24_5353_udp\n");
  REQUIRE(del != std::string::npos);
  CHECK(s.find("delete counter inet herald q_198.51.100.0_24_5353_tcp\n") != std::string::npos);
  CHECK(flush < del);
  CHECK(s.rfind("add rule") < del);
}

TEST_CASE("herald reads its table alone, not every counter of the host's ruleset") {
  CHECK(list_script() == "list table inet herald\n");
}

TEST_CASE("nft's JSON answer gives packets by counter name, of herald's table only") {
  // As nft 1.0.6 lists the table: the table, its counters, its chain and rules (abridged).
  const char* answer =
      R"({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},)"
      R"( {"table": {"family": "inet", "name": "herald", "handle": 3}},)"
      R"( {"chain": {"family": "inet", "table": "herald", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": -150, "policy": "accept"}},)"
      R"( {"rule": {"family": "inet", "table": "herald", "chain": "input", "handle": 3, "expr": [{"counter": "q_192.0.2.53_32_53_udp"}]}},)"
      R"( {"counter": {"family": "inet", "name": "q_192.0.2.53_32_53_udp", "table": "herald", "handle": 2, "packets": 3, "bytes": 210}},)"
      R"( {"counter": {"family": "inet", "name": "other", "table": "firewall", "handle": 2, "packets": 9, "bytes": 900}}]})";
  auto r = parse_counters(answer);
  REQUIRE(r);
  CHECK(r->size() == 1);
  CHECK(r->at("q_192.0.2.53_32_53_udp") == 3);
  CHECK(!parse_counters("Error: No such file or directory"));
  CHECK(!parse_counters(R"({"nftables": [{"counter": {"name": "x", "table": "herald"}}]})"));
}

TEST_CASE("a packets count that is no whole number 0..2^64-1 is refused, naming its counter") {
  auto answer = [](const std::string& packets) {
    return R"({"nftables": [{"counter": {"family": "inet", "name": "q_192.0.2.53_32_53_udp", "table": "herald",)"
           R"( "handle": 2, "packets": )" + packets + R"(, "bytes": 0}}]})";
  };
  REQUIRE(parse_counters(answer("18446744073709551615")));  // 2^64-1 is the largest count
  CHECK(parse_counters(answer("18446744073709551615"))->at("q_192.0.2.53_32_53_udp") == 18446744073709551615u);
  for (const char* bad : {"-1", "1e32", "18446744073709551616", "2.5", "\"7\"", "null"}) {
    CAPTURE(bad);
    auto r = parse_counters(answer(bad));
    REQUIRE(!r);
    CHECK(r.error().find("q_192.0.2.53_32_53_udp") != std::string::npos);
    CHECK(r.error().find("packets") != std::string::npos);
  }
}

TEST_CASE("a rate is the growth over the last interval; new and reset counters have none yet") {
  Rates r;
  const auto t0 = Rates::Clock::time_point{} + 100s;
  r.update({{"a", 100}, {"b", 10}}, t0);
  CHECK(!r.rate("a"));
  CHECK(!r.sum({"a", "b"}));
  r.update({{"a", 600}, {"b", 20}, {"c", 5}}, t0 + 5s);
  CHECK(*r.rate("a") == doctest::Approx(100));
  CHECK(*r.rate("b") == doctest::Approx(2));
  CHECK(!r.rate("c"));  // new: no interval yet
  CHECK(*r.sum({"a", "b", "c"}) == doctest::Approx(102));
  r.update({{"a", 50}, {"b", 20}, {"c", 15}}, t0 + 10s);  // a went down: the table was recreated
  CHECK(!r.rate("a"));
  CHECK(*r.rate("b") == doctest::Approx(0));
  CHECK(*r.rate("c") == doctest::Approx(2));
}

TEST_CASE("a rate is published first at once, then only after the interval and when it moved more than 10 % and 1 qps") {
  CHECK(worth_publishing(std::nullopt, 5.0, 0s, 30s));
  CHECK(!worth_publishing(std::nullopt, std::nullopt, 100s, 30s));
  CHECK(worth_publishing(5.0, std::nullopt, 0s, 30s));  // the counters went away
  CHECK(!worth_publishing(100.0, 200.0, 29s, 30s));
  CHECK(worth_publishing(100.0, 200.0, 30s, 30s));
  CHECK(!worth_publishing(100.0, 109.0, 60s, 30s));  // within 10 %
  CHECK(!worth_publishing(2.0, 2.9, 60s, 30s));      // within 1 qps
  CHECK(worth_publishing(2.0, 3.5, 60s, 30s));
}

TEST_CASE("the table: fresh at the first install, kept counters across the next, removed once") {
  FakeNft nft;
  QueryCounterTable table(nft);
  CHECK(!table.remove());  // nothing installed: nothing run
  CHECK(nft.scripts.empty());
  REQUIRE(!table.install({kDnsV4}));
  CHECK(nft.scripts.back().rfind("add table inet herald\ndelete table inet herald\n", 0) == 0);
  REQUIRE(!table.install({kDnsV6}));
  CHECK(nft.scripts.back().find("delete table") == std::string::npos);
  CHECK(nft.scripts.back().find("delete counter inet herald q_192.0.2.53_32_53_udp") != std::string::npos);
  CHECK(table.counters().size() == 2);

  nft.fail = "Error: Could not process rule: Operation not permitted";
  CHECK(table.install({kDnsV4}) == nft.fail);
  CHECK(table.counters()[0].target == kDnsV6);  // a failed transaction changed nothing
  CHECK(!table.read());

  nft.fail.reset();
  nft.answer = R"({"nftables": [{"counter": {"name": "q_2001-db8-53--53_128_53_udp", "table": "herald", "packets": 7}}]})";
  auto r = table.read();
  REQUIRE(r);
  CHECK(r->at("q_2001-db8-53--53_128_53_udp") == 7);
  CHECK(!table.remove());
  CHECK(nft.scripts.back() == "delete table inet herald\n");
  CHECK(!table.installed());
}

// diff_announced / summarise: which prefixes a publication changed per service, and the summary
// that replaces per-prefix log lines for large changes.
#include <doctest/doctest.h>

#include "daemon/controller_prefix_log.hpp"

using namespace herald;
using herald::daemon::diff_announced;
using herald::daemon::summarise;

namespace {

bgp::Prefix P(const char* text) { return *bgp::Prefix::parse(text); }

std::vector<std::string> texts(const std::vector<bgp::Prefix>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.to_string());
  return out;
}

}  // namespace

TEST_CASE("diff_announced: a reload, lists compared prefix by prefix") {
  // Before and after a reload: every list is a new object.
  const std::vector<bgp::Prefix> web{P("198.51.100.1/32")}, dns{P("192.0.2.2/32"), P("192.0.2.1/32")},
      ntp{P("203.0.113.1/32")};
  daemon::AnnouncedSet before;
  before.add("web", web);
  before.add("dns", dns);
  before.add("ntp", ntp);
  const std::vector<bgp::Prefix> dns2{P("192.0.2.2/32"), P("192.0.2.3/32")}, www{P("198.51.100.1/32")},
      web2{P("2001:db8::1/128")};
  daemon::AnnouncedSet after;
  after.add("dns", dns2);
  after.add("www", www);
  after.add("web", web2);
  CHECK(after.size() == 4);
  auto d = diff_announced(before, after);
  REQUIRE(d.size() == 3);  // "www" only took over a prefix: no change for it
  CHECK(d[0].service == "dns");
  CHECK(texts(d[0].announced) == std::vector<std::string>{"192.0.2.3/32"});
  CHECK(texts(d[0].withdrawn) == std::vector<std::string>{"192.0.2.1/32"});
  CHECK(d[1].service == "ntp");
  CHECK(d[1].announced.empty());
  CHECK(texts(d[1].withdrawn) == std::vector<std::string>{"203.0.113.1/32"});
  CHECK(d[2].service == "web");
  CHECK(texts(d[2].announced) == std::vector<std::string>{"2001:db8::1/128"});
  CHECK(d[2].withdrawn.empty());
  CHECK(diff_announced(before, before).empty());
  CHECK(diff_announced({}, {}).empty());
}

TEST_CASE("diff_announced: services going up or down keep their list whole, others are skipped") {
  const std::vector<bgp::Prefix> dns{P("192.0.2.2/32"), P("192.0.2.1/32")}, ntp{P("203.0.113.1/32")};
  daemon::AnnouncedSet both;
  both.add("dns", dns);
  both.add("ntp", ntp);
  daemon::AnnouncedSet ntp_only;
  ntp_only.add("ntp", ntp);

  auto down = diff_announced(both, ntp_only);
  REQUIRE(down.size() == 1);
  CHECK(down[0].service == "dns");
  CHECK(texts(down[0].withdrawn) == std::vector<std::string>{"192.0.2.2/32", "192.0.2.1/32"});
  auto up = diff_announced(ntp_only, both);
  REQUIRE(up.size() == 1);
  CHECK(texts(up[0].announced) == std::vector<std::string>{"192.0.2.2/32", "192.0.2.1/32"});
  auto all_gone = diff_announced(both, {});
  REQUIRE(all_gone.size() == 2);
  CHECK(all_gone[1].service == "ntp");
  CHECK(texts(all_gone[1].withdrawn) == std::vector<std::string>{"203.0.113.1/32"});
}

TEST_CASE("summarise: counts per family and the first few prefixes") {
  std::vector<bgp::Prefix> many;
  for (int i = 0; i < 100000; ++i) many.push_back(bgp::Prefix{bgp::IpAddress::v4(0xC6120000u + i), 32});
  many.push_back(P("2001:db8::1/128"));
  auto s = summarise(many);
  CHECK(s.count == 100001);
  CHECK(s.ipv4 == 100000);
  CHECK(s.ipv6 == 1);
  CHECK(s.first == "198.18.0.0/32, 198.18.0.1/32, 198.18.0.2/32, ...");
  auto two = summarise({P("192.0.2.1/32"), P("2001:db8::1/128")});
  CHECK(two.first == "192.0.2.1/32, 2001:db8::1/128");
  CHECK(summarise({}).first.empty());
}

// heraldctl routes: the Adj-RIB-Out as sent (bgp::SentRoutes) to the reply's JSON
// (daemon/routes_json) and the JSON to the operator's table (render_routes).
#include <doctest/doctest.h>

#include <string>

#include "daemon/routes_json.hpp"
#include "daemon/status_render.hpp"

namespace {

using herald::bgp::AsSegment;
using herald::bgp::AsSegmentType;
using herald::bgp::IpAddress;
using herald::bgp::Prefix;
using herald::bgp::SentRoutes;
using nlohmann::json;

SentRoutes steered_v4() {
  SentRoutes s{herald::bgp::kIpv4Unicast, {}, {*Prefix::parse("192.0.2.53/32"), *Prefix::parse("198.51.100.0/24")}};
  s.attributes.origin = herald::bgp::Origin::Igp;
  s.attributes.as_path = herald::bgp::AsPath{AsSegment{AsSegmentType::AsSequence, {65000, 65000, 65000}}};
  s.attributes.next_hop = *IpAddress::parse("203.0.113.1");
  s.attributes.med = 100;
  s.attributes.communities = {0xFFFF0000, 0xFDE80064};
  s.attributes.large_communities = {{65000, 1, 2}};
  return s;
}

SentRoutes ibgp_v6() {
  SentRoutes s{herald::bgp::kIpv6Unicast, {}, {*Prefix::parse("2001:db8:53::/48")}};
  s.attributes.origin = herald::bgp::Origin::Igp;
  s.attributes.as_path = herald::bgp::AsPath{};
  s.attributes.local_pref = 100;
  s.attributes.otc = 65000;
  herald::bgp::MpReach mp;
  mp.family = herald::bgp::kIpv6Unicast;
  mp.next_hop = *IpAddress::parse("2001:db8::1");
  mp.link_local_next_hop = *IpAddress::parse("fe80::1");
  s.attributes.mp_reach = mp;
  return s;
}

}  // namespace

TEST_CASE("routes JSON: one object per attribute set, with every attribute as sent") {
  std::size_t budget = 100;
  bool truncated = false;
  json g = herald::daemon::sent_routes_json({steered_v4(), ibgp_v6()}, budget, truncated);
  REQUIRE(g.size() == 2);
  CHECK(g[0]["family"] == "ipv4-unicast");
  CHECK(g[0]["origin"] == "IGP");
  CHECK(g[0]["as_path"] == json::array({65000, 65000, 65000}));
  CHECK_FALSE(g[0].contains("as4_path"));
  CHECK(g[0]["next_hop"] == "203.0.113.1");
  CHECK(g[0]["med"] == 100);
  CHECK(g[0]["local_pref"].is_null());
  CHECK(g[0]["communities"] == json::array({"65535:0", "65000:100"}));
  CHECK(g[0]["large_communities"] == json::array({"65000:1:2"}));
  CHECK(g[0]["otc"].is_null());
  CHECK(g[0]["prefix_count"] == 2);
  CHECK(g[0]["prefixes"] == json::array({"192.0.2.53/32", "198.51.100.0/24"}));
  CHECK(g[1]["next_hop"] == "2001:db8::1");
  CHECK(g[1]["link_local_next_hop"] == "fe80::1");
  CHECK(g[1]["as_path"] == json::array());
  CHECK(g[1]["local_pref"] == 100);
  CHECK(g[1]["otc"] == 65000);
  CHECK(budget == 97);
  CHECK_FALSE(truncated);
}

TEST_CASE("routes JSON: the listed prefixes are bounded, the counts are not") {
  std::size_t budget = 1;
  bool truncated = false;
  json g = herald::daemon::sent_routes_json({steered_v4(), ibgp_v6()}, budget, truncated);
  CHECK(truncated);
  CHECK(budget == 0);
  CHECK(g[0]["prefixes"].size() == 1);
  CHECK(g[0]["prefix_count"] == 2);
  CHECK(g[1]["prefixes"].empty());
  CHECK(g[1]["prefix_count"] == 1);
}

TEST_CASE("routes table: one row per prefix with its attributes; disabled and empty peers say so") {
  std::size_t budget = 100;
  bool truncated = false;
  json reply = {{"ok", true},
                {"truncated", false},
                {"peers",
                 {{{"name", "upstream1"},
                   {"address", "203.0.113.2"},
                   {"state", "Established"},
                   {"disabled", nullptr},
                   {"prefix_count", 3},
                   {"groups", herald::daemon::sent_routes_json({steered_v4(), ibgp_v6()}, budget, truncated)}},
                  {{"name", "upstream2"},
                   {"address", "203.0.113.3"},
                   {"state", "Idle"},
                   {"disabled", {{"reason", "rack move"}}},
                   {"prefix_count", 0},
                   {"groups", json::array()}}}}};
  const std::string out = herald::control::render_routes(reply);
  CHECK(out.find("PEER upstream1 203.0.113.2 Established: 3 prefixes sent\n") != std::string::npos);
  CHECK(out.find("PREFIX            NEXT HOP             AS PATH            ORIGIN  MED  LOCAL PREF  COMMUNITIES        "
                 "LARGE COMMUNITIES  OTC\n") != std::string::npos);
  CHECK(out.find("192.0.2.53/32     203.0.113.1          65000 65000 65000  IGP     100  -           65535:0 65000:100  "
                 "65000:1:2          -\n") != std::string::npos);
  CHECK(out.find("198.51.100.0/24   203.0.113.1          65000 65000 65000  IGP     100") != std::string::npos);
  CHECK(out.find("2001:db8:53::/48  2001:db8::1 fe80::1  (empty)            IGP     -    100         -                  -"
                 "                  65000\n") != std::string::npos);
  CHECK(out.find("PEER upstream2 203.0.113.3 Idle (disabled: rack move): 0 prefixes sent\n(nothing announced)\n") !=
        std::string::npos);
  CHECK(herald::control::render_routes(json{{"ok", true}, {"peers", json::array()}}) == "(no peers)\n");
}

TEST_CASE("routes: extended communities in the JSON, and in a column only when some route has one") {
  std::size_t budget = 100;
  bool truncated = false;
  SentRoutes tagged = steered_v4();
  tagged.attributes.extended_communities = {{0x00, 0x02, 0xFD, 0xE8, 0x00, 0x00, 0x00, 0x64}};
  json g = herald::daemon::sent_routes_json({tagged, ibgp_v6()}, budget, truncated);
  CHECK(g[0]["extended_communities"] == json::array({herald::bgp::to_string(tagged.attributes.extended_communities[0])}));
  CHECK(g[1]["extended_communities"] == json::array());
  json reply = {{"peers", {{{"name", "r1"}, {"address", "203.0.113.2"}, {"state", "Established"}, {"prefix_count", 3},
                            {"groups", g}}}}};
  const std::string out = herald::control::render_routes(reply);
  CHECK(out.find("LARGE COMMUNITIES  EXT COMMUNITIES  OTC\n") != std::string::npos);
  CHECK(out.find("65000:1:2          " + herald::bgp::to_string(tagged.attributes.extended_communities[0])) !=
        std::string::npos);
  CHECK(herald::control::render_routes(json{{"peers", {{{"name", "r1"}, {"groups", herald::daemon::sent_routes_json(
                                                                                       {steered_v4()}, budget, truncated)}}}}})
            .find("EXT COMMUNITIES") == std::string::npos);
}

TEST_CASE("routes table in a dry run: marked first, no session state, what would be sent, self as next hop") {
  std::size_t budget = 100;
  bool truncated = false;
  SentRoutes unset = steered_v4();
  unset.attributes.next_hop.reset();  // the session's local address, which a dry run has not
  json reply = {{"dry_run", true},
                {"peers", {{{"name", "r1"}, {"address", "203.0.113.2"}, {"state", "Active"}, {"prefix_count", 2},
                            {"groups", herald::daemon::sent_routes_json({unset}, budget, truncated)}}}}};
  const std::string out = herald::control::render_routes(reply);
  CHECK(out.starts_with("DRY RUN: no BGP session is opened; these are the routes herald would send\n\n"));
  CHECK(out.find("PEER r1 203.0.113.2 (no session): 2 prefixes would be sent\n") != std::string::npos);
  CHECK(out.find("192.0.2.53/32    self      65000 65000 65000") != std::string::npos);
  reply["dry_run"] = false;
  CHECK(herald::control::render_routes(reply).find("DRY RUN") == std::string::npos);
}

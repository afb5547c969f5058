// The value parsers of conf/values.hpp: accepted forms, normalized output, and error text.
#include <doctest/doctest.h>

#include "conf/values.hpp"

using namespace herald;
using namespace herald::conf;
using namespace std::chrono_literals;

TEST_CASE("durations: accepted forms and normalization") {
  CHECK(*parse_duration("1s") == 1000ms);
  CHECK(*parse_duration("250ms") == 250ms);
  CHECK(*parse_duration("1m30s") == 90s);
  CHECK(*parse_duration("2h") == 7200s);
  CHECK(*parse_duration("1h2m3s4ms") == 3723004ms);
  CHECK(*parse_duration("0s") == 0ms);
  CHECK(*parse_duration("90s") == 90s);  // amounts may exceed the next unit
  CHECK(format_duration(90s) == "1m30s");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(1500ms) == "1s500ms");
  CHECK(format_duration(0ms) == "0s");
  CHECK(format_duration(3600s) == "1h");
  for (auto text : {"1s", "250ms", "1m30s", "1h1ms", "30m", "0s"})
    CHECK(format_duration(*parse_duration(text)) == text);
}

TEST_CASE("durations: refused forms") {
  for (auto text : {"", "s", "1x", "1.5s", "-1s", "1s1m", "1s1s", "1 s", "1ms1s", "ms"}) {
    CAPTURE(text);
    auto r = parse_duration(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("expected a duration string like \"1s\"") == 0);
  }
  // A number without a unit gets both readings spelled out (BIRD and FRR users type seconds).
  auto bare = parse_duration("90");
  REQUIRE_FALSE(bare);
  CHECK(bare.error() == "duration \"90\" has no unit: write \"90s\" for 90 seconds or \"90ms\" for 90 milliseconds");
  auto big = parse_duration("721h");
  REQUIRE_FALSE(big);
  CHECK(big.error() == "duration \"721h\" is longer than 30 days");
  CHECK(parse_duration("720h"));
  CHECK_FALSE(parse_duration("99999999999999999999h"));  // no overflow
}

TEST_CASE("AS numbers: plain, asdot, reserved") {
  CHECK(*parse_asn("65000") == 65000u);
  CHECK(*parse_asn("4200000000") == 4200000000u);
  CHECK(*parse_asn("1.10") == 65546u);   // RFC 5396: 1 * 65536 + 10
  CHECK(*parse_asn("0.65000") == 65000u);
  CHECK(*parse_asn("65535.65535") == 4294967295u);
  CHECK(parse_asn("0").error() == "AS 0 is reserved and cannot be used (RFC 7607)");
  CHECK(parse_asn("23456").error() ==
        "AS 23456 is AS_TRANS and cannot be configured (RFC 6793)");
  CHECK(parse_asn("0.23456").error() ==
        "AS 23456 is AS_TRANS and cannot be configured (RFC 6793)");
  for (auto text : {"4294967296", "65536.0", "1.", ".1", "AS65000", "", "1.2.3", "-1"}) {
    CAPTURE(text);
    REQUIRE_FALSE(parse_asn(text));
  }
  CHECK(parse_asn("x").error() == "expected an AS number like 65000 or asdot \"1.10\", got \"x\"");
  CHECK(check_asn(-5).error() == "expected an AS number 1..4294967295, got -5");
  CHECK(*check_asn(64512) == 64512u);
}

TEST_CASE("communities: numeric, well-known names, formatting") {
  CHECK(*parse_community("65000:100") == 0xFDE80064u);
  CHECK(*parse_community("0:0") == 0u);
  CHECK(*parse_community("graceful-shutdown") == bgp::kGracefulShutdown);
  CHECK(*parse_community("NO-EXPORT") == bgp::kNoExport);
  CHECK(*parse_community("no-advertise") == bgp::kNoAdvertise);
  CHECK(*parse_community("no-export-subconfed") == bgp::kNoExportSubconfed);
  CHECK(*parse_community("blackhole") == bgp::kBlackhole);
  CHECK(*parse_community("65535:0") == bgp::kGracefulShutdown);
  CHECK(format_community(bgp::kGracefulShutdown) == "graceful-shutdown");
  CHECK(format_community(0xFDE80064u) == "65000:100");
  for (auto text : {"65536:1", "1:65536", "1", "1:", ":1", "a:b", "1:2:3", "graceful"}) {
    CAPTURE(text);
    auto r = parse_community(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("expected a community \"ASN:VALUE\"") == 0);
  }
}

TEST_CASE("large communities") {
  auto c = parse_large_community("65000:1:2");
  REQUIRE(c);
  CHECK(*c == bgp::LargeCommunity{65000, 1, 2});
  CHECK(*parse_large_community("4294967295:4294967295:4294967295") ==
        bgp::LargeCommunity{4294967295u, 4294967295u, 4294967295u});
  CHECK(format_large_community({4200000000u, 0, 7}) == "4200000000:0:7");
  for (auto text : {"1:2", "1:2:3:4", "4294967296:1:1", "a:1:1", "1::1", ""}) {
    CAPTURE(text);
    auto r = parse_large_community(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("expected a large community") == 0);
  }
}

TEST_CASE("prefixes: host prefixes, networks, host bits") {
  auto p = parse_prefix("192.0.2.1");
  REQUIRE(p);
  CHECK(p->length == 32);
  CHECK(p->to_string() == "192.0.2.1/32");
  auto v6 = parse_prefix("2001:db8:53::1");
  REQUIRE(v6);
  CHECK(v6->length == 128);
  CHECK(parse_prefix("2001:db8::/32")->length == 32);
  CHECK(parse_prefix("198.51.100.0/24")->to_string() == "198.51.100.0/24");
  CHECK(parse_prefix("192.0.2.1/24").error() ==
        "prefix \"192.0.2.1/24\" has host bits set; did you mean \"192.0.2.0/24\"?");
  CHECK(parse_prefix("2001:db8::1/32").error() ==
        "prefix \"2001:db8::1/32\" has host bits set; did you mean \"2001:db8::/32\"?");
  for (auto text : {"192.0.2.0/33", "300.0.0.1", "192.0.2.0/", "nonsense", "2001:db8::/129"}) {
    CAPTURE(text);
    auto r = parse_prefix(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("expected a prefix like") == 0);
  }
}

TEST_CASE("endpoints") {
  auto e = parse_endpoint("192.0.2.1:1179", 179);
  REQUIRE(e);
  CHECK(e->port == 1179);
  CHECK(format_endpoint(*e) == "192.0.2.1:1179");
  CHECK(format_endpoint(*parse_endpoint("[2001:db8::1]:179", 1)) == "[2001:db8::1]:179");
  CHECK(format_endpoint(*parse_endpoint("2001:db8::1", 179)) == "[2001:db8::1]:179");
  CHECK(format_endpoint(*parse_endpoint("[::]", 179)) == "[::]:179");
  CHECK(format_endpoint(*parse_endpoint("127.0.0.1", 9179)) == "127.0.0.1:9179");
  for (auto text : {"192.0.2.1:", "192.0.2.1:65536", "[192.0.2.1]:1", "[2001:db8::1", "host:1",
                    "[2001:db8::1]179", ""}) {
    CAPTURE(text);
    REQUIRE_FALSE(parse_endpoint(text, 179));
  }
}

TEST_CASE("DNS words: qtype, qclass, rcode, names") {
  CHECK(*parse_qtype("A") == 1);
  CHECK(*parse_qtype("aaaa") == 28);
  CHECK(*parse_qtype("TYPE65534") == 65534);
  CHECK(format_qtype(65534) == "TYPE65534");
  CHECK(format_qtype(6) == "SOA");
  CHECK_FALSE(parse_qtype("TYPE65536"));
  CHECK_FALSE(parse_qtype("AX"));
  CHECK(*parse_qclass("CH") == 3);
  CHECK(*parse_rcode("NXDOMAIN") == 3);
  CHECK(*parse_rcode("servfail") == 2);
  CHECK(format_rcode(5) == "REFUSED");
  CHECK(parse_rcode("OK").error().find("expected a response code (NOERROR, FORMERR,") == 0);
  CHECK(check_dns_name("example.com."));
  CHECK(check_dns_name("."));
  CHECK(check_dns_name("www.example"));
  CHECK_FALSE(check_dns_name(""));
  CHECK_FALSE(check_dns_name("a..b"));
  CHECK_FALSE(check_dns_name("a b"));
  CHECK_FALSE(check_dns_name(std::string(64, 'x') + ".com"));
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(60, 'x') + ".";
  CHECK(check_dns_name(long_name).error().find("longer than 255 octets") != std::string::npos);
}

// RFC 4360 3.1 / 3.2 and RFC 5668 2: type, sub-type (0x02 route target, 0x03 route origin),
// global administrator, local administrator; byte for byte.
TEST_CASE("extended communities: rt and soo in the two-octet AS, IPv4 and four-octet AS forms") {
  using E = bgp::ExtendedCommunity;
  CHECK(*parse_extended_community("rt:65000:100") ==
        E{0x00, 0x02,                // transitive two-octet AS specific, route target
          0xFD, 0xE8,                // AS 65000
          0x00, 0x00, 0x00, 0x64});  // 100
  CHECK(*parse_extended_community("soo:65000:4294967295") == E{0x00, 0x03, 0xFD, 0xE8, 0xFF, 0xFF, 0xFF, 0xFF});
  CHECK(*parse_extended_community("rt:192.0.2.1:7") ==
        E{0x01, 0x02,                // transitive IPv4 address specific, route target
          0xC0, 0x00, 0x02, 0x01,    // 192.0.2.1
          0x00, 0x07});              // 7
  CHECK(*parse_extended_community("soo:192.0.2.1:65535") == E{0x01, 0x03, 0xC0, 0x00, 0x02, 0x01, 0xFF, 0xFF});
  CHECK(*parse_extended_community("rt:4200000000:9") ==
        E{0x02, 0x02,                // transitive four-octet AS specific (RFC 5668), route target
          0xFA, 0x56, 0xEA, 0x00,    // AS 4200000000
          0x00, 0x09});              // 9
  CHECK(*parse_extended_community("rt:65000L:9") == E{0x02, 0x02, 0x00, 0x00, 0xFD, 0xE8, 0x00, 0x09});
  CHECK(*parse_extended_community("0x0002fde800000064") == *parse_extended_community("rt:65000:100"));
  CHECK(*parse_extended_community("RT:65000:100") == *parse_extended_community("rt:65000:100"));
  // The formatter writes what the parser reads back.
  for (auto text : {"rt:65000:100", "soo:65000:4294967295", "rt:192.0.2.1:7", "soo:192.0.2.1:65535",
                    "rt:4200000000:9", "rt:65000L:9", "0x4300000000000000"}) {
    CAPTURE(text);
    auto c = parse_extended_community(text);
    REQUIRE(c);
    CHECK(format_extended_community(*c) == text);
  }
  // Values that do not fit the form, and other garbage.
  for (auto case_ : std::initializer_list<std::pair<const char*, const char*>>{
           {"rt:192.0.2.1:65536", "with an IPv4 address the value is 0..65535 (RFC 4360 3.2)"},
           {"rt:4200000000:65536", "with a four-octet AS the value is 0..65535 (RFC 5668)"},
           {"rt:65000:4294967296", "with a two-octet AS the value is 0..4294967295 (RFC 4360 3.1)"},
           {"target:65000:1", "the kind is \"rt\" (route target) or \"soo\" (route origin)"},
           {"rt:2001:db8::1:1", "the administrator is an AS number or an IPv4 address"},
           {"rt:65000", ""},
           {"0x0002", ""},
           {"0x0002fde80000006g", ""}}) {
    const char* text = case_.first;  // not a structured binding: clang 14 cannot capture one
    const char* why = case_.second;
    CAPTURE(text);
    auto r = parse_extended_community(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("expected an extended community") == 0);
    CHECK(r.error().find(why) != std::string::npos);
  }
}

// Text forms of addresses, prefixes, families and communities (bgp/types.hpp).
#include <doctest/doctest.h>

#include "bgp/message.hpp"
#include "bgp/types.hpp"

using namespace herald::bgp;

TEST_CASE("IpAddress parses and prints both families") {
  auto v4 = IpAddress::parse("192.0.2.1");
  REQUIRE(v4);
  CHECK(v4->is_v4());
  CHECK(v4->v4_host_order() == 0xC0000201u);
  CHECK(v4->to_string() == "192.0.2.1");
  CHECK(*v4 == IpAddress::v4(0xC0000201u));

  auto v6 = IpAddress::parse("2001:db8:53::1");
  REQUIRE(v6);
  CHECK(v6->afi == Afi::Ipv6);
  CHECK(v6->size() == 16);
  CHECK(v6->bytes[0] == 0x20);
  CHECK(v6->bytes[15] == 0x01);
  CHECK(v6->to_string() == "2001:db8:53::1");
  CHECK_FALSE(v6->is_link_local());
  CHECK(IpAddress::parse("fe80::1")->is_link_local());
  CHECK_FALSE(IpAddress::parse("fec0::1")->is_link_local());

  CHECK_FALSE(IpAddress::parse(""));
  CHECK_FALSE(IpAddress::parse("192.0.2"));
  CHECK_FALSE(IpAddress::parse("192.0.2.256"));
  CHECK_FALSE(IpAddress::parse("2001:db8:::1"));
  CHECK_FALSE(IpAddress::parse(std::string_view("192.0.2.1\0", 10)));
}

TEST_CASE("Prefix parses lengths, refuses host bits and bad lengths") {
  auto p = Prefix::parse("192.0.2.0/24");
  REQUIRE(p);
  CHECK(p->length == 24);
  CHECK(p->wire_bytes() == 3);
  CHECK(p->family() == kIpv4Unicast);
  CHECK(p->to_string() == "192.0.2.0/24");

  auto host = Prefix::parse("2001:db8:53::1");
  REQUIRE(host);
  CHECK(host->length == 128);
  CHECK(host->to_string() == "2001:db8:53::1/128");
  CHECK(Prefix::parse("192.0.2.1")->length == 32);
  CHECK(Prefix::parse("0.0.0.0/0")->wire_bytes() == 0);

  CHECK_FALSE(Prefix::parse("192.0.2.1/24"));  // host bits set
  CHECK_FALSE(Prefix::parse("192.0.2.0/33"));
  CHECK_FALSE(Prefix::parse("2001:db8::/129"));
  CHECK_FALSE(Prefix::parse("192.0.2.0/"));
  CHECK_FALSE(Prefix::parse("192.0.2.0/2x"));
  CHECK_FALSE(Prefix::parse("192.0.2.0/-1"));
  CHECK_FALSE(Prefix::parse("/24"));
  CHECK(Prefix::parse("192.0.2.0/24") < Prefix::parse("192.0.2.0/25"));
}

TEST_CASE("community and family names") {
  CHECK(community_to_string(kGracefulShutdown) == "graceful-shutdown");
  CHECK(community_to_string(kNoExport) == "no-export");
  CHECK(community_to_string(kNoAdvertise) == "no-advertise");
  CHECK(community_to_string(kNoExportSubconfed) == "no-export-subconfed");
  CHECK(community_to_string(kBlackhole) == "blackhole");
  CHECK(community_to_string((65000u << 16) | 100u) == "65000:100");
  CHECK(to_string(LargeCommunity{4200000000u, 1, 2}) == "4200000000:1:2");
  CHECK(to_string(kIpv4Unicast) == "ipv4-unicast");
  CHECK(to_string(kIpv6Unicast) == "ipv6-unicast");
  CHECK(to_string(Family{static_cast<Afi>(25), static_cast<Safi>(70)}) == "afi-25/safi-70");
  CHECK(to_string(Role::RsClient) == "rs-client");
  CHECK(to_string(Role::Customer) == "customer");
}

// RFC 4360 3.1 (two-octet AS), 3.2 (IPv4 address), RFC 5668 2 (four-octet AS); sub-type 0x02
// route target, 0x03 route origin (RFC 4360 5).
TEST_CASE("extended communities: builders give the RFC's octets, to_string the config's text") {
  CHECK(ext_community_as2(ExtCommunityKind::RouteTarget, 65000, 100) ==
        ExtendedCommunity{0x00, 0x02, 0xFD, 0xE8, 0x00, 0x00, 0x00, 0x64});
  CHECK(ext_community_ipv4(ExtCommunityKind::RouteOrigin, 0xC0000201, 7) ==
        ExtendedCommunity{0x01, 0x03, 0xC0, 0x00, 0x02, 0x01, 0x00, 0x07});
  CHECK(ext_community_as4(ExtCommunityKind::RouteTarget, 4200000000u, 9) ==
        ExtendedCommunity{0x02, 0x02, 0xFA, 0x56, 0xEA, 0x00, 0x00, 0x09});
  CHECK(to_string(ext_community_as2(ExtCommunityKind::RouteTarget, 65000, 100)) == "rt:65000:100");
  CHECK(to_string(ext_community_ipv4(ExtCommunityKind::RouteOrigin, 0xC0000201, 7)) == "soo:192.0.2.1:7");
  CHECK(to_string(ext_community_as4(ExtCommunityKind::RouteTarget, 4200000000u, 9)) == "rt:4200000000:9");
  CHECK(to_string(ext_community_as4(ExtCommunityKind::RouteTarget, 65000, 9)) == "rt:65000L:9");
  // Any other type: its octets (here RFC 4360 3.4 opaque, non-transitive).
  CHECK(to_string(ExtendedCommunity{0x43, 0x00, 1, 2, 3, 4, 5, 6}) == "0x4300010203040506");
}

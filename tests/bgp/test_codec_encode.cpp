// UPDATE encoding, packing and End-of-RIB (RFC 4271 4.3, RFC 4760, RFC 4724 2, RFC 6793 4.2.2).
#include "anycast_attrs.hpp"
#include "bgp/cursor.hpp"
#include "codec_test_util.hpp"

using namespace herald::bgp;
using namespace herald::bgp::test;

namespace {

std::vector<Prefix> host_routes_v4(std::size_t n) {
  std::vector<Prefix> v;
  for (std::size_t i = 0; i < n; ++i) {
    v.push_back(Prefix{IpAddress::v4(0xC6120000u + static_cast<std::uint32_t>(i)), 32});  // 198.18.x.y
  }
  return v;
}
std::vector<Prefix> host_routes_v6(std::size_t n) {
  std::vector<Prefix> v;
  for (std::size_t i = 0; i < n; ++i) {
    Prefix p{ip("2001:db8:53::"), 128};
    p.addr.bytes[14] = static_cast<std::uint8_t>(i >> 8);
    p.addr.bytes[15] = static_cast<std::uint8_t>(i);
    v.push_back(p);
  }
  return v;
}

std::uint16_t wire_length(const Bytes& m) { return static_cast<std::uint16_t>((m[16] << 8) | m[17]); }

}  // namespace

TEST_CASE("UPDATE encodes attributes in type order, byte for byte") {
  Update u;
  u.withdrawn = {pfx("192.0.2.7/32")};
  u.attrs = anycast_attrs();
  u.attrs.next_hop = ip("192.0.2.1");
  u.attrs.unknown = {RawAttribute{0xC0, 99, {0xAB}}};  // optional transitive: Partial on output
  u.nlri = {pfx("192.0.2.0/24")};
  const Bytes expected = with_header(MessageType::Update, {
      0x00, 0x05,                                // withdrawn routes length 5
      0x20, 0xC0, 0x00, 0x02, 0x07,              // 192.0.2.7/32
      0x00, 0x35,                                // path attribute length 53
      0x40, 0x01, 0x01, 0x00,                    // ORIGIN IGP
      0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0xFD, 0xE9,  // AS_PATH [65001]
      0x40, 0x03, 0x04, 0xC0, 0x00, 0x02, 0x01,  // NEXT_HOP 192.0.2.1
      0x80, 0x04, 0x04, 0x00, 0x00, 0x00, 0x0A,  // MED 10
      0xC0, 0x08, 0x04, 0xFD, 0xE9, 0x00, 0x35,  // COMMUNITIES 65001:53
      0xC0, 0x20, 0x0C,                          // LARGE_COMMUNITIES, length 12
      0x00, 0x00, 0xFD, 0xE9, 0x00, 0x00, 0x00, 0x35, 0x00, 0x00, 0x00, 0x01,  // 65001:53:1
      0xE0, 0x63, 0x01, 0xAB,                    // type 99 with the Partial bit added
      0x18, 0xC0, 0x00, 0x02,                    // NLRI 192.0.2.0/24
  });
  CHECK(encode(u, {}) == expected);
}

TEST_CASE("MP attributes go first; extended length only above 255 octets") {
  Update u;
  u.attrs.origin = Origin::Igp;
  u.attrs.as_path = AsPath{};
  u.attrs.mp_reach = MpReach{kIpv6Unicast, ip("2001:db8::1"), std::nullopt, {pfx("2001:db8:53::/48")}};
  for (std::uint32_t i = 0; i < 70; ++i) u.attrs.communities.push_back(i);  // 280 octets
  const Bytes wire = encode(u, {});
  Cursor c(ByteSpan(wire).subspan(kHeaderSize + 4));  // first attribute
  CHECK(c.u8() == 0x80);  // MP_REACH_NLRI: optional, short length
  CHECK(c.u8() == 14);
  c.skip(c.u8());
  CHECK(c.u8() == 0x40);  // ORIGIN
  CHECK(c.u8() == 1);
  c.skip(c.u8());
  CHECK(c.u8() == 0x40);  // AS_PATH, empty
  CHECK(c.u8() == 2);
  CHECK(c.u8() == 0);
  CHECK(c.u8() == 0xD0);  // COMMUNITIES: optional transitive + extended length
  CHECK(c.u8() == 8);
  CHECK(c.u16() == 280);
  auto back = decode_wire(wire);
  REQUIRE(back);
  CHECK(std::get<Update>(back->message) == u);
}

TEST_CASE("encode -> decode round trips") {
  Update u;
  u.withdrawn = {pfx("203.0.113.0/24")};
  u.attrs = anycast_attrs();
  u.attrs.origin = Origin::Incomplete;
  u.attrs.as_path = AsPath{{AsSegmentType::AsSequence, {65001, 4200000001u}},
                           {AsSegmentType::AsSet, {65002, 65003}}};
  u.attrs.next_hop = ip("192.0.2.1");
  u.attrs.atomic_aggregate = true;
  u.attrs.aggregator = Aggregator{65001, ip("192.0.2.1")};
  u.attrs.extended_communities = {{0, 2, 0xFD, 0xE9, 0, 0, 0, 1}};
  u.attrs.mp_reach = MpReach{kIpv6Unicast, ip("2001:db8::1"), ip("fe80::1"), {pfx("2001:db8:53::1/128")}};
  u.attrs.mp_unreach = MpUnreach{kIpv6Unicast, {pfx("2001:db8:54::/64")}};
  u.attrs.unknown = {RawAttribute{0x80, 41, {4, 5, 6, 7}}, RawAttribute{0xE0, 99, {1, 2, 3}}};
  u.nlri = {pfx("192.0.2.0/24"), pfx("0.0.0.0/0")};

  SUBCASE("4-octet session") {
    auto back = decode_wire(encode(u, {}));
    REQUIRE(back);
    CHECK(back->action == ErrorAction::None);
    CHECK(std::get<Update>(back->message) == u);
  }
  SUBCASE("iBGP keeps LOCAL_PREF; eBGP never sends it") {
    u.attrs.local_pref = 200;
    CodecOptions ib;
    ib.ibgp = true;
    auto back = decode_wire(encode(u, ib), ib);
    CHECK(std::get<Update>(back->message).attrs.local_pref == 200u);
    auto ebgp = decode_wire(encode(u, {}));
    CHECK(ebgp->action == ErrorAction::None);  // nothing to discard: it was not sent
    CHECK_FALSE(std::get<Update>(ebgp->message).attrs.local_pref);
  }
  SUBCASE("2-octet session: AS_TRANS plus generated AS4_PATH / AS4_AGGREGATOR") {
    CodecOptions old;
    old.four_octet_as = false;
    u.attrs.aggregator = Aggregator{4200000009u, ip("192.0.2.9")};
    const Bytes wire = encode(u, old);
    auto back = decode_wire(wire, old);
    REQUIRE(back);
    CHECK(back->action == ErrorAction::None);
    const auto& a = std::get<Update>(back->message).attrs;
    CHECK(a.as_path == u.attrs.as_path);  // merged back to 4-octet ASes
    CHECK(a.aggregator == u.attrs.aggregator);
    REQUIRE(a.as4_path);
    CHECK(a.as4_aggregator == u.attrs.aggregator);
  }
}

TEST_CASE("encode_announcements packs IPv4 prefixes into full UPDATEs") {
  const auto prefixes = host_routes_v4(1000);
  const auto msgs = encode_announcements(kIpv4Unicast, anycast_attrs(), ip("192.0.2.1"), std::nullopt,
                                         prefixes, {});
  // 4096 - 23 - 55 octets of attributes leave room for 803 /32s of 5 octets each.
  REQUIRE(msgs.size() == 2);
  std::vector<Prefix> seen;
  for (const auto& m : msgs) {
    CHECK(m.size() <= kMaxMessageSize);
    CHECK(wire_length(m) == m.size());
    auto d = decode_wire(m);
    REQUIRE(d);
    CHECK(d->action == ErrorAction::None);
    const auto& u = std::get<Update>(d->message);
    CHECK(u.attrs.next_hop == ip("192.0.2.1"));
    CHECK(u.attrs.communities == anycast_attrs().communities);
    seen.insert(seen.end(), u.nlri.begin(), u.nlri.end());
  }
  CHECK(seen == prefixes);
  CHECK(msgs[0].size() + 5 > kMaxMessageSize);  // one more /32 would not have fit

  CodecOptions big;
  big.extended_message = true;
  CHECK(encode_announcements(kIpv4Unicast, anycast_attrs(), ip("192.0.2.1"), std::nullopt, prefixes, big).size() == 1);
  CHECK(encode_announcements(kIpv4Unicast, anycast_attrs(), ip("192.0.2.1"), std::nullopt, {}, {}).empty());
}

TEST_CASE("encode_announcements packs IPv6 prefixes into MP_REACH_NLRI") {
  const auto prefixes = host_routes_v6(600);
  const auto msgs = encode_announcements(kIpv6Unicast, anycast_attrs(), ip("2001:db8::1"), ip("fe80::1"),
                                         prefixes, {});
  REQUIRE(msgs.size() == 3);  // 17 octets per /128: about 235 per UPDATE
  std::vector<Prefix> seen;
  for (const auto& m : msgs) {
    CHECK(m.size() <= kMaxMessageSize);
    auto d = decode_wire(m);
    REQUIRE(d);
    CHECK(d->action == ErrorAction::None);
    const auto& u = std::get<Update>(d->message);
    CHECK(u.nlri.empty());
    CHECK_FALSE(u.attrs.next_hop);
    REQUIRE(u.attrs.mp_reach);
    CHECK(u.attrs.mp_reach->next_hop == ip("2001:db8::1"));
    CHECK(u.attrs.mp_reach->link_local_next_hop == ip("fe80::1"));
    seen.insert(seen.end(), u.attrs.mp_reach->nlri.begin(), u.attrs.mp_reach->nlri.end());
  }
  CHECK(seen == prefixes);
  CHECK(msgs[0].size() + 17 > kMaxMessageSize);
  // A single prefix uses the short attribute length.
  const auto one = encode_announcements(kIpv6Unicast, anycast_attrs(), ip("2001:db8::1"), std::nullopt,
                                        std::vector<Prefix>{pfx("2001:db8:53::1/128")}, {});
  REQUIRE(one.size() == 1);
  CHECK(one[0][kHeaderSize + 4] == 0x80);  // MP_REACH flags without extended length
}

TEST_CASE("encode_withdrawals packs both families") {
  const auto v4 = host_routes_v4(1500);
  const auto msgs = encode_withdrawals(kIpv4Unicast, v4, {});
  REQUIRE(msgs.size() == 2);  // (4096 - 23) / 5 = 814 per UPDATE
  std::vector<Prefix> seen;
  for (const auto& m : msgs) {
    auto u = std::get<Update>(decode_wire(m)->message);
    CHECK(u.attrs == PathAttributes{});
    seen.insert(seen.end(), u.withdrawn.begin(), u.withdrawn.end());
  }
  CHECK(seen == v4);

  const auto v6 = host_routes_v6(300);
  const auto m6 = encode_withdrawals(kIpv6Unicast, v6, {});
  REQUIRE(m6.size() == 2);
  std::vector<Prefix> seen6;
  for (const auto& m : m6) {
    auto u = std::get<Update>(decode_wire(m)->message);
    REQUIRE(u.attrs.mp_unreach);
    seen6.insert(seen6.end(), u.attrs.mp_unreach->withdrawn.begin(), u.attrs.mp_unreach->withdrawn.end());
  }
  CHECK(seen6 == v6);
  const auto small = encode_withdrawals(kIpv6Unicast, std::vector<Prefix>{pfx("2001:db8:53::1/128")}, {});
  CHECK(small[0] == with_header(MessageType::Update, {
      0x00, 0x00,              // no withdrawn routes
      0x00, 0x17,              // attribute length 23
      0x80, 0x0F, 0x14,        // MP_UNREACH_NLRI, length 20
      0x00, 0x02, 0x01,        // IPv6 unicast
      0x80, 0x20, 0x01, 0x0D, 0xB8, 0x00, 0x53, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,  // /128
  }));
}

TEST_CASE("End-of-RIB for both families") {
  const Bytes v4 = encode_end_of_rib(kIpv4Unicast, {});
  CHECK(v4 == with_header(MessageType::Update, {0x00, 0x00,     // no withdrawn routes
                                                0x00, 0x00}));  // no attributes
  CHECK(v4.size() == 23);
  const Bytes v6 = encode_end_of_rib(kIpv6Unicast, {});
  CHECK(v6 == with_header(MessageType::Update, {0x00, 0x00,        // no withdrawn routes
                                                0x00, 0x06,        // attribute length 6
                                                0x80, 0x0F, 0x03,  // MP_UNREACH_NLRI, length 3
                                                0x00, 0x02,        // AFI IPv6
                                                0x01}));           // SAFI unicast
  CHECK(std::get<Update>(decode_wire(v4)->message).end_of_rib() == kIpv4Unicast);
  CHECK(std::get<Update>(decode_wire(v6)->message).end_of_rib() == kIpv6Unicast);
}

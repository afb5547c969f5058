// OPEN (RFC 4271 4.2), capabilities (RFC 5492 and friends), RFC 9072 extended parameters,
// and validate_open() (RFC 4271 6.2, RFC 6793, RFC 9234).
#include "codec_test_util.hpp"

using namespace herald::bgp;
using namespace herald::bgp::test;

namespace {

// A typical OPEN from AS 4200000001 with the capabilities herald cares about.
const Bytes kOpenBody = {
    0x04,                    // version 4
    0x5B, 0xA0,              // my AS 23456 (AS_TRANS)
    0x00, 0x5A,              // hold time 90
    0xC6, 0x33, 0x64, 0x01,  // BGP identifier 198.51.100.1
    0x30,                    // optional parameters length 48
    0x02, 0x2E,              // parameter type 2 (capabilities), length 46
    0x01, 0x04,              //   cap 1 multiprotocol, length 4
    0x00, 0x01, 0x00, 0x01,  //     AFI 1, reserved, SAFI 1
    0x01, 0x04,              //   cap 1 multiprotocol, length 4
    0x00, 0x02, 0x00, 0x01,  //     AFI 2, reserved, SAFI 1
    0x02, 0x00,              //   cap 2 route refresh, length 0
    0x46, 0x00,              //   cap 70 enhanced route refresh, length 0
    0x06, 0x00,              //   cap 6 extended message, length 0
    0x41, 0x04,              //   cap 65 4-octet AS, length 4
    0xFA, 0x56, 0xEA, 0x01,  //     AS 4200000001
    0x09, 0x01,              //   cap 9 BGP role, length 1
    0x03,                    //     role customer
    0x40, 0x06,              //   cap 64 graceful restart, length 6
    0x80, 0x78,              //     R bit, restart time 120
    0x00, 0x01, 0x01, 0x80,  //     AFI 1, SAFI 1, forwarding preserved
    0x49, 0x07,              //   cap 73 FQDN, length 7
    0x02, 'r', '1',          //     hostname "r1"
    0x03, 'l', 'a', 'b',     //     domain "lab"
    0x80, 0x00,              //   cap 128 (unknown), length 0
};

Open sample_open() {
  auto d = decode(MessageType::Open, kOpenBody, {});
  REQUIRE(d);
  return std::get<Open>(d->message);
}

OpenPolicy policy() {
  OpenPolicy p;
  p.local_as = 65001;
  p.local_bgp_id = 0xC0000201;  // 192.0.2.1
  p.peer_as = 4200000001u;
  return p;
}

}  // namespace

TEST_CASE("OPEN decodes every capability field") {
  auto d = decode_wire(with_header(MessageType::Open, kOpenBody));
  REQUIRE(d);
  const auto& o = std::get<Open>(d->message);
  CHECK(o.version == 4);
  CHECK(o.my_as == kAsTrans);
  CHECK(o.hold_time == 90);
  CHECK(o.bgp_id == 0xC6336401u);
  CHECK_FALSE(o.extended_params);
  CHECK(o.effective_as() == 4200000001u);
  CHECK(o.caps.multiprotocol == std::vector<Family>{kIpv4Unicast, kIpv6Unicast});
  CHECK(o.caps.route_refresh);
  CHECK(o.caps.enhanced_route_refresh);
  CHECK(o.caps.extended_message);
  CHECK(o.caps.role == Role::Customer);
  REQUIRE(o.caps.graceful_restart);
  CHECK(o.caps.graceful_restart->restart_state);
  CHECK_FALSE(o.caps.graceful_restart->notification);
  CHECK(o.caps.graceful_restart->restart_time == 120);
  REQUIRE(o.caps.graceful_restart->families.size() == 1);
  CHECK(o.caps.graceful_restart->families[0].family == kIpv4Unicast);
  CHECK(o.caps.graceful_restart->families[0].forwarding_preserved);
  REQUIRE(o.caps.fqdn);
  CHECK(o.caps.fqdn->hostname == "r1");
  CHECK(o.caps.fqdn->domain == "lab");
  REQUIRE(o.caps.unknown.size() == 1);
  CHECK(o.caps.unknown[0].code == 128);
  CHECK(o.caps.unknown[0].value.empty());
  CHECK(o.unknown_params.empty());
}

TEST_CASE("OPEN encodes field by field and round-trips") {
  Open o;
  o.my_as = 65001;
  o.hold_time = 90;
  o.bgp_id = 0xC0000201;
  o.caps.multiprotocol = {kIpv4Unicast};
  o.caps.route_refresh = true;
  o.caps.four_octet_as = 65001;
  const Bytes expected = with_header(MessageType::Open, {
      0x04,                    // version
      0xFD, 0xE9,              // my AS 65001
      0x00, 0x5A,              // hold time 90
      0xC0, 0x00, 0x02, 0x01,  // BGP id 192.0.2.1
      0x10,                    // optional parameters length 16
      0x02, 0x0E,              // capabilities, length 14
      0x01, 0x04, 0x00, 0x01, 0x00, 0x01,  // multiprotocol IPv4 unicast
      0x02, 0x00,                          // route refresh
      0x41, 0x04, 0x00, 0x00, 0xFD, 0xE9,  // 4-octet AS 65001
  });
  CHECK(encode(o, {}) == expected);
  auto back = decode_wire(expected);
  REQUIRE(back);
  CHECK(std::get<Open>(back->message) == o);

  Open full = sample_open();
  auto again = decode_wire(encode(full, {}));
  REQUIRE(again);
  CHECK(std::get<Open>(again->message) == full);

  Open bare;  // no capabilities at all: optional parameters length 0
  bare.my_as = 65001;
  bare.bgp_id = 1;
  CHECK(encode(bare, {}).size() == 29);
}

TEST_CASE("OPEN with RFC 9072 extended optional parameters") {
  const Bytes body = {
      0x04,                    // version
      0xFD, 0xE9,              // my AS 65001
      0x00, 0xB4,              // hold time 180
      0xC0, 0x00, 0x02, 0x02,  // BGP id 192.0.2.2
      0xFF,                    // non-extended length 255 (marker)
      0xFF,                    // non-extended parameter type 255 (marker)
      0x00, 0x0B,              // extended parameters length 11
      0x02, 0x00, 0x08,        // capabilities, 2-octet length 8
      0x02, 0x00,              //   route refresh
      0x41, 0x04, 0x00, 0x00, 0xFD, 0xE9,  //   4-octet AS 65001
  };
  auto d = decode(MessageType::Open, body, {});
  REQUIRE(d);
  const auto& o = std::get<Open>(d->message);
  CHECK(o.extended_params);
  CHECK(o.caps.route_refresh);
  CHECK(o.caps.four_octet_as == 65001u);
  CHECK(encode(o, {}) == with_header(MessageType::Open, body));

  SUBCASE("the encoder switches by itself when parameters exceed 255 octets") {
    Open big;
    big.my_as = 65001;
    big.bgp_id = 1;
    for (std::uint8_t i = 0; i < 60; ++i) big.caps.multiprotocol.push_back(Family{Afi::Ipv4, static_cast<Safi>(i)});
    const Bytes wire = encode(big, {});
    CHECK(wire[kHeaderSize + 9] == 0xFF);   // non-extended length marker
    CHECK(wire[kHeaderSize + 10] == 0xFF);  // non-extended type marker
    auto back = decode_wire(wire);
    REQUIRE(back);
    auto got = std::get<Open>(back->message);
    CHECK(got.extended_params);
    CHECK(got.caps.multiprotocol == big.caps.multiprotocol);
  }
}

TEST_CASE("OPEN wire errors") {
  SUBCASE("parameter length disagrees with the message: 1/2 with the length") {
    Bytes body = {0x04, 0xFD, 0xE9, 0x00, 0x5A, 0xC0, 0x00, 0x02, 0x01,
                  0x03,         // says 3 octets of parameters
                  0x02, 0x00};  // only 2 present
    auto e = decode(MessageType::Open, body, {});
    REQUIRE_FALSE(e);
    CHECK(e.error() == Notification{1, 2, {0x00, 0x1F}});
  }
  SUBCASE("capability overrunning its parameter: 2/0") {
    Bytes body = {0x04, 0xFD, 0xE9, 0x00, 0x5A, 0xC0, 0x00, 0x02, 0x01,
                  0x04,        // parameters length 4
                  0x02, 0x02,  // capabilities, length 2
                  0x41, 0x04}; // 4-octet AS claims 4 octets, none left
    auto e = decode(MessageType::Open, body, {});
    REQUIRE_FALSE(e);
    CHECK(e.error() == Notification{2, 0, {}});
  }
  SUBCASE("known capability with a wrong length: 2/0") {
    Bytes body = {0x04, 0xFD, 0xE9, 0x00, 0x5A, 0xC0, 0x00, 0x02, 0x01,
                  0x05,              // parameters length 5
                  0x02, 0x03,        // capabilities, length 3
                  0x02, 0x01, 0x00}; // route refresh with a 1-octet value
    auto e = decode(MessageType::Open, body, {});
    REQUIRE_FALSE(e);
    CHECK(e.error() == Notification{2, 0, {}});
  }
  SUBCASE("two different roles: 2/11") {
    Bytes body = {0x04, 0xFD, 0xE9, 0x00, 0x5A, 0xC0, 0x00, 0x02, 0x01,
                  0x08,              // parameters length 8
                  0x02, 0x06,        // capabilities, length 6
                  0x09, 0x01, 0x00,  // role provider
                  0x09, 0x01, 0x04}; // role peer
    auto e = decode(MessageType::Open, body, {});
    REQUIRE_FALSE(e);
    CHECK(e.error() == Notification{2, 11, {}});
  }
  SUBCASE("unknown optional parameters are kept for validate_open") {
    Bytes body = {0x04, 0xFD, 0xE9, 0x00, 0x5A, 0xC0, 0x00, 0x02, 0x01,
                  0x03,              // parameters length 3
                  0x01, 0x01, 0xAA}; // type 1 (deprecated authentication), 1 octet
    auto d = decode(MessageType::Open, body, {});
    REQUIRE(d);
    const auto& o = std::get<Open>(d->message);
    REQUIRE(o.unknown_params.size() == 1);
    CHECK(o.unknown_params[0] == RawParameter{1, {0xAA}});
    CHECK(validate_open(o, OpenPolicy{65002, 1, std::nullopt, {}, std::nullopt, false, false}) ==
          Notification{2, 4, {}});
  }
}

TEST_CASE("validate_open answers with the RFC codes and data") {
  CHECK_FALSE(validate_open(sample_open(), policy()));

  auto o = sample_open();
  o.version = 3;
  CHECK(validate_open(o, policy()) == Notification{2, 1, {0x00, 0x04}});

  o = sample_open();
  o.caps.four_octet_as = 4200000002u;
  CHECK(validate_open(o, policy()) == Notification{2, 2, {}});
  o.my_as = 0;
  o.caps.four_octet_as.reset();
  auto any = policy();
  any.peer_as.reset();
  CHECK(validate_open(o, any) == Notification{2, 2, {}});  // RFC 7607: AS 0

  o = sample_open();
  o.bgp_id = 0;
  CHECK(validate_open(o, policy()) == Notification{2, 3, {}});
  o.bgp_id = policy().local_bgp_id;
  CHECK(validate_open(o, policy()) == Notification{2, 3, {}});

  o = sample_open();
  o.hold_time = 2;
  CHECK(validate_open(o, policy()) == Notification{2, 6, {}});
  o.hold_time = 1;
  CHECK(validate_open(o, policy()) == Notification{2, 6, {}});
  o.hold_time = 0;
  CHECK_FALSE(validate_open(o, policy()));
  o.hold_time = 3;
  CHECK_FALSE(validate_open(o, policy()));

  SUBCASE("2/7 lists the missing capabilities") {
    o = sample_open();
    o.caps.multiprotocol = {kIpv4Unicast};
    o.caps.four_octet_as.reset();
    o.my_as = 65010;
    auto p = policy();
    p.peer_as = 65010;
    p.required_families = {kIpv4Unicast, kIpv6Unicast};
    p.require_four_octet_as = true;
    CHECK(validate_open(o, p) == Notification{2, 7, {
        0x01, 0x04, 0x00, 0x02, 0x00, 0x01,  // multiprotocol IPv6 unicast
        0x41, 0x04, 0x00, 0x00, 0xFD, 0xE9,  // 4-octet AS with our AS 65001
    }});
  }
  SUBCASE("2/11 for RFC 9234 role pairs") {
    auto p = policy();
    p.local_role = Role::Provider;  // peer says customer: fine
    CHECK_FALSE(validate_open(sample_open(), p));
    p.local_role = Role::Peer;
    CHECK(validate_open(sample_open(), p) == Notification{2, 11, {}});
    o = sample_open();
    o.caps.role = Role::RsClient;
    p.local_role = Role::RouteServer;
    CHECK_FALSE(validate_open(o, p));
    o.caps.role = Role::Peer;
    p.local_role = Role::Peer;
    CHECK_FALSE(validate_open(o, p));
    o.caps.role.reset();
    CHECK_FALSE(validate_open(o, p));  // not strict: a missing role is fine
    p.strict_role = true;
    CHECK(validate_open(o, p) == Notification{2, 11, {}});
  }
}

// KEEPALIVE, NOTIFICATION (RFC 4271 4.4, 4.5, RFC 9003) and ROUTE-REFRESH (RFC 2918, RFC 7313).
#include "codec_test_util.hpp"

using namespace herald::bgp;
using namespace herald::bgp::test;

TEST_CASE("KEEPALIVE encodes to the bare header and decodes back") {
  const Bytes expected = cat({Bytes(16, 0xFF),  // marker
                              {0x00, 0x13},     // length 19
                              {0x04}});         // type KEEPALIVE
  CHECK(encode_keepalive() == expected);
  CHECK(encode(Keepalive{}, {}) == expected);
  auto d = decode_wire(expected);
  REQUIRE(d);
  CHECK(std::holds_alternative<Keepalive>(d->message));
  // decode() called directly with a body is a length error carrying the total length.
  auto bad = decode(MessageType::Keepalive, Bytes{0x00}, {});
  REQUIRE_FALSE(bad);
  CHECK(bad.error() == Notification{1, 2, {0x00, 0x14}});
}

TEST_CASE("NOTIFICATION decodes code, subcode and data") {
  const Bytes body = {
      0x03,              // code 3 UPDATE Message Error
      0x02,              // subcode 2 Unrecognized Well-known Attribute
      0x40, 0x63, 0x00,  // data: the attribute (flags, type 99, length 0)
  };
  auto d = decode_wire(with_header(MessageType::Notification, body));
  REQUIRE(d);
  auto n = std::get<Notification>(d->message);
  CHECK(n.code == 3);
  CHECK(n.subcode == 2);
  CHECK(n.data == Bytes{0x40, 0x63, 0x00});
  CHECK(n.describe() == "UPDATE Message Error/Unrecognized Well-known Attribute (3/2) data 406300");
  CHECK(encode(n, {}) == with_header(MessageType::Notification, body));

  auto short_body = decode(MessageType::Notification, Bytes{0x06}, {});
  REQUIRE_FALSE(short_body);
  CHECK(short_body.error() == Notification{1, 2, {0x00, 0x14}});
}

TEST_CASE("RFC 9003 shutdown communication") {
  auto n = Notification::shutdown("maintenance");
  CHECK(n.code == 6);
  CHECK(n.subcode == 2);
  CHECK(n.data == cat({{11}, {'m', 'a', 'i', 'n', 't', 'e', 'n', 'a', 'n', 'c', 'e'}}));
  CHECK(n.shutdown_communication() == "maintenance");
  CHECK(n.describe() == "Cease/Administrative Shutdown (6/2) \"maintenance\"");
  CHECK(Notification::shutdown("x", CeaseSubcode::AdministrativeReset).subcode == 4);

  SUBCASE("long text is cut to 255 octets on a character boundary") {
    std::string text(254, 'a');
    text += "\xC3\xA9";  // U+00E9, two octets: would end at octet 256
    auto cut = Notification::shutdown(text);
    CHECK(cut.data[0] == 254);
    CHECK(cut.data.size() == 255);
    CHECK(cut.shutdown_communication() == std::string(254, 'a'));
    auto exact = Notification::shutdown(std::string(300, 'b'));
    CHECK(exact.data[0] == 255);
  }
  SUBCASE("inconsistent length or bad UTF-8 gives no text") {
    Notification bad_len{6, 2, {0x05, 'a', 'b'}};  // says 5, has 2
    CHECK_FALSE(bad_len.shutdown_communication());
    CHECK(bad_len.describe() == "Cease/Administrative Shutdown (6/2) data 056162");
    Notification bad_utf8{6, 2, {0x02, 0xC3, 0x28}};  // broken continuation octet
    CHECK_FALSE(bad_utf8.shutdown_communication());
    Notification overlong{6, 4, {0x02, 0xC0, 0xAF}};  // overlong '/'
    CHECK_FALSE(overlong.shutdown_communication());
    Notification other{6, 3, {0x01, 'a'}};  // Peer De-configured carries no text
    CHECK_FALSE(other.shutdown_communication());
    Notification empty{6, 2, {0x00}};
    CHECK(empty.shutdown_communication() == "");
  }
}

TEST_CASE("error names cover every registered code and subcode") {
  CHECK(error_code_name(1) == "Message Header Error");
  CHECK(error_code_name(7) == "ROUTE-REFRESH Message Error");
  CHECK(error_code_name(9) == "Unknown Error");
  CHECK(error_subcode_name(2, 11) == "Role Mismatch");
  CHECK(error_subcode_name(2, 7) == "Unsupported Capability");
  CHECK(error_subcode_name(3, 10) == "Invalid Network Field");
  CHECK(error_subcode_name(3, 11) == "Malformed AS_PATH");
  CHECK(error_subcode_name(5, 3) == "Receive Unexpected Message in Established State");
  CHECK(error_subcode_name(6, 9) == "Hard Reset");
  CHECK(error_subcode_name(6, 10) == "BFD Down");
  CHECK(error_subcode_name(7, 1) == "Invalid Message Length");
  CHECK(error_subcode_name(4, 0) == "Unspecific");
  CHECK(error_subcode_name(3, 99) == "Unknown Subcode");
  for (std::uint8_t s = 1; s <= 11; ++s) {
    if (s == 7) continue;  // deprecated
    CHECK(error_subcode_name(3, s) != "Unknown Subcode");
  }
  for (std::uint8_t s = 1; s <= 10; ++s) CHECK(error_subcode_name(6, s) != "Unknown Subcode");
  auto n = Notification::make(ErrorCode::HoldTimerExpired, 0);
  CHECK(n.describe() == "Hold Timer Expired/Unspecific (4/0)");
}

TEST_CASE("ROUTE-REFRESH with RFC 7313 subtypes") {
  const Bytes body = {
      0x00, 0x02,  // AFI 2 IPv6
      0x01,        // subtype 1 BoRR
      0x01,        // SAFI 1 unicast
  };
  const Bytes wire = with_header(MessageType::RouteRefresh, body);
  auto d = decode_wire(wire);
  REQUIRE(d);
  auto rr = std::get<RouteRefresh>(d->message);
  CHECK(rr.family == kIpv6Unicast);
  CHECK(rr.subtype == RouteRefreshSubtype::BeginOfRibRefresh);
  CHECK(encode(rr, {}) == wire);
  CHECK(encode(RouteRefresh{kIpv4Unicast, RouteRefreshSubtype::EndOfRibRefresh}, {}) ==
        with_header(MessageType::RouteRefresh, {0x00, 0x01, 0x02, 0x01}));

  SUBCASE("wrong length is 7/1 carrying the whole message") {
    const Bytes long_body = {0x00, 0x01,  // AFI 1
                             0x02,        // subtype EoRR
                             0x01,        // SAFI 1
                             0x00};       // one octet too many
    const Bytes long_wire = with_header(MessageType::RouteRefresh, long_body);
    Framer f;
    f.append(long_wire);
    auto fr = f.next();
    REQUIRE(fr.status == Framer::Status::Message);  // >= 23 passes the framer
    auto e = decode(fr.type, fr.body, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().code == 7);
    CHECK(e.error().subcode == 1);
    CHECK(e.error().data == long_wire);
  }
}

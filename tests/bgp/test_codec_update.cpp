// UPDATE decoding (RFC 4271 4.3, RFC 4760, RFC 6793) and RFC 7606 error handling.
#include "codec_test_util.hpp"

using namespace herald::bgp;
using namespace herald::bgp::test;

namespace {

const Bytes kOrigin = {0x40, 0x01, 0x01,  // well-known transitive, ORIGIN, length 1
                       0x00};             // IGP
const Bytes kAsPath = {0x40, 0x02, 0x06,  // well-known transitive, AS_PATH, length 6
                       0x02, 0x01,        // AS_SEQUENCE of 1
                       0x00, 0x00, 0xFD, 0xE9};  // 65001 (4-octet)
const Bytes kNextHop = {0x40, 0x03, 0x04,  // well-known transitive, NEXT_HOP, length 4
                        0xC0, 0x00, 0x02, 0x01};  // 192.0.2.1
const Bytes kMandatory = cat({kOrigin, kAsPath, kNextHop});
const Bytes kNlri = {0x18, 0xC6, 0x33, 0x64};  // 198.51.100.0/24

CodecOptions two_octet() {
  CodecOptions o;
  o.four_octet_as = false;
  return o;
}
CodecOptions ibgp() {
  CodecOptions o;
  o.ibgp = true;
  return o;
}

Notification reset(const Bytes& b, const CodecOptions& opts = {}) {
  auto d = decode(MessageType::Update, b, opts);
  REQUIRE_FALSE(d.has_value());
  return d.error();
}
const Update& upd(const Decoded& d) { return std::get<Update>(d.message); }

}  // namespace

TEST_CASE("UPDATE with every IPv4 attribute decodes field by field") {
  const Bytes withdrawn = {0x20, 0xC0, 0x00, 0x02, 0x07};  // 192.0.2.7/32
  const Bytes attrs = {
      0x40, 0x01, 0x01, 0x02,                    // ORIGIN incomplete
      0x40, 0x02, 0x10,                          // AS_PATH, length 16
      0x02, 0x02,                                //   AS_SEQUENCE of 2
      0x00, 0x00, 0xFD, 0xE9,                    //     65001
      0xFA, 0x56, 0xEA, 0x01,                    //     4200000001
      0x01, 0x01,                                //   AS_SET of 1
      0x00, 0x00, 0xFD, 0xEA,                    //     65002
      0x40, 0x03, 0x04, 0xC0, 0x00, 0x02, 0x01,  // NEXT_HOP 192.0.2.1
      0x80, 0x04, 0x04, 0x00, 0x00, 0x00, 0x64,  // MED 100
      0x40, 0x06, 0x00,                          // ATOMIC_AGGREGATE
      0xC0, 0x07, 0x08,                          // AGGREGATOR, length 8
      0x00, 0x00, 0xFD, 0xE9,                    //   AS 65001
      0xC0, 0x00, 0x02, 0x01,                    //   192.0.2.1
      0xC0, 0x08, 0x08,                          // COMMUNITIES, length 8
      0xFD, 0xE9, 0x00, 0x64,                    //   65001:100
      0xFF, 0xFF, 0xFF, 0x01,                    //   no-export
      0xC0, 0x10, 0x08,                          // EXTENDED_COMMUNITIES, length 8
      0x00, 0x02, 0xFD, 0xE9, 0x00, 0x00, 0x00, 0x01,  // route target 65001:1
      0xC0, 0x20, 0x0C,                          // LARGE_COMMUNITIES, length 12
      0xFA, 0x56, 0xEA, 0x01,                    //   4200000001
      0x00, 0x00, 0x00, 0x01,                    //   :1
      0x00, 0x00, 0x00, 0x02,                    //   :2
      0xD0, 0x63, 0x00, 0x02, 0xAB, 0xCD,        // unknown optional transitive 99, ext length 2
  };
  const Bytes nlri = {0x18, 0xC6, 0x33, 0x64,        // 198.51.100.0/24
                      0x20, 0xCB, 0x00, 0x71, 0x05,  // 203.0.113.5/32
                      0x00};                         // 0.0.0.0/0
  auto d = decode_wire(with_header(MessageType::Update, update_body(withdrawn, attrs, nlri)));
  REQUIRE(d);
  CHECK(d->action == ErrorAction::None);
  CHECK(d->problems.empty());
  const auto& u = std::get<Update>(d->message);
  CHECK(u.withdrawn == std::vector<Prefix>{pfx("192.0.2.7/32")});
  CHECK(u.nlri == std::vector<Prefix>{pfx("198.51.100.0/24"), pfx("203.0.113.5/32"), pfx("0.0.0.0/0")});
  const auto& a = u.attrs;
  CHECK(a.origin == Origin::Incomplete);
  REQUIRE(a.as_path);
  REQUIRE(a.as_path->size() == 2);
  CHECK((*a.as_path)[0] == AsSegment{AsSegmentType::AsSequence, {65001, 4200000001u}});
  CHECK((*a.as_path)[1] == AsSegment{AsSegmentType::AsSet, {65002}});
  CHECK(a.next_hop == ip("192.0.2.1"));
  CHECK(a.med == 100u);
  CHECK_FALSE(a.local_pref);
  CHECK(a.atomic_aggregate);
  CHECK(a.aggregator == Aggregator{65001, ip("192.0.2.1")});
  CHECK(a.communities == std::vector<Community>{(65001u << 16) | 100u, kNoExport});
  CHECK(a.extended_communities == std::vector<ExtendedCommunity>{{0x00, 0x02, 0xFD, 0xE9, 0x00, 0x00, 0x00, 0x01}});
  CHECK(a.large_communities == std::vector<LargeCommunity>{{4200000001u, 1, 2}});
  REQUIRE(a.unknown.size() == 1);
  CHECK(a.unknown[0] == RawAttribute{0xC0, 99, {0xAB, 0xCD}});  // extended-length bit dropped
  CHECK_FALSE(u.end_of_rib());
}

TEST_CASE("UPDATE with IPv6 MP_REACH (global + link-local next hop) and MP_UNREACH") {
  const Bytes attrs = {
      0x80, 0x0E, 0x2C,        // MP_REACH_NLRI, optional, length 44
      0x00, 0x02,              //   AFI IPv6
      0x01,                    //   SAFI unicast
      0x20,                    //   next hop length 32
      0x20, 0x01, 0x0D, 0xB8, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,  // 2001:db8:1::1
      0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,              // fe80::1
      0x00,                    //   reserved
      0x30, 0x20, 0x01, 0x0D, 0xB8, 0x00, 0x53,  //   2001:db8:53::/48
      0x80, 0x0F, 0x0C,        // MP_UNREACH_NLRI, optional, length 12
      0x00, 0x02,              //   AFI IPv6
      0x01,                    //   SAFI unicast
      0x40, 0x20, 0x01, 0x0D, 0xB8, 0x00, 0x54, 0x00, 0x00,  //   2001:db8:54::/64
  };
  auto d = decoded_update(update_body({}, cat({attrs, kOrigin, kAsPath}), {}));
  CHECK(d.action == ErrorAction::None);
  const auto& a = upd(d).attrs;
  REQUIRE(a.mp_reach);
  CHECK(a.mp_reach->family == kIpv6Unicast);
  CHECK(a.mp_reach->next_hop == ip("2001:db8:1::1"));
  CHECK(a.mp_reach->link_local_next_hop == ip("fe80::1"));
  CHECK(a.mp_reach->nlri == std::vector<Prefix>{pfx("2001:db8:53::/48")});
  REQUIRE(a.mp_unreach);
  CHECK(a.mp_unreach->family == kIpv6Unicast);
  CHECK(a.mp_unreach->withdrawn == std::vector<Prefix>{pfx("2001:db8:54::/64")});
}

TEST_CASE("End-of-RIB markers are recognised") {
  CHECK(upd(decoded_update(update_body({}, {}, {}))).end_of_rib() == kIpv4Unicast);
  const Bytes v6 = {0x80, 0x0F, 0x03,  // MP_UNREACH_NLRI, length 3
                    0x00, 0x02,        // AFI IPv6
                    0x01};             // SAFI unicast
  CHECK(upd(decoded_update(update_body({}, v6, {}))).end_of_rib() == kIpv6Unicast);
  CHECK_FALSE(upd(decoded_update(update_body({}, cat({v6, kOrigin}), {}))).end_of_rib());
}

TEST_CASE("NLRI trailing bits past the prefix length are cleared") {
  const Bytes nlri = {0x17, 0xC6, 0x33, 0x65};  // /23 with the last bit of the 3rd octet set
  auto u = upd(decoded_update(update_body({}, kMandatory, nlri)));
  CHECK(u.nlri == std::vector<Prefix>{pfx("198.51.100.0/23")});
}

TEST_CASE("extended-length attributes decode like short ones") {
  const Bytes attrs = {0x50, 0x01, 0x00, 0x01, 0x01};  // ORIGIN with the extended-length bit, EGP
  auto u = upd(decoded_update(update_body({}, attrs, {})));
  CHECK(u.attrs.origin == Origin::Egp);
}

TEST_CASE("RFC 6793 4.2.3: AS4_PATH and AS4_AGGREGATOR merge on a 2-octet session") {
  const Bytes attrs = {
      0x40, 0x01, 0x01, 0x00,        // ORIGIN IGP
      0x40, 0x02, 0x0A,              // AS_PATH, length 10 (2-octet ASes)
      0x02, 0x04,                    //   AS_SEQUENCE of 4
      0xFD, 0xE9,                    //     65001
      0x5B, 0xA0,                    //     23456 AS_TRANS
      0x5B, 0xA0,                    //     23456 AS_TRANS
      0xFD, 0xEA,                    //     65002
      0x40, 0x03, 0x04, 0xC0, 0x00, 0x02, 0x01,  // NEXT_HOP
      0xC0, 0x07, 0x06,              // AGGREGATOR, length 6
      0x5B, 0xA0,                    //   AS_TRANS
      0xC0, 0x00, 0x02, 0x09,        //   192.0.2.9
      0xC0, 0x11, 0x0E,              // AS4_PATH, length 14
      0x02, 0x03,                    //   AS_SEQUENCE of 3
      0xFA, 0x56, 0xEA, 0x01,        //     4200000001
      0xFA, 0x56, 0xEA, 0x02,        //     4200000002
      0x00, 0x00, 0xFD, 0xEA,        //     65002
      0xC0, 0x12, 0x08,              // AS4_AGGREGATOR, length 8
      0xFA, 0x56, 0xEA, 0x03,        //   4200000003
      0xC0, 0x00, 0x02, 0x09,        //   192.0.2.9
  };
  auto d = decoded_update(update_body({}, attrs, kNlri), two_octet());
  CHECK(d.action == ErrorAction::None);
  const auto& a = upd(d).attrs;
  REQUIRE(a.as_path);
  // One leading AS from AS_PATH (4 - 3), then AS4_PATH.
  CHECK(*a.as_path == AsPath{{AsSegmentType::AsSequence, {65001}},
                              {AsSegmentType::AsSequence, {4200000001u, 4200000002u, 65002}}});
  CHECK(a.aggregator == Aggregator{4200000003u, ip("192.0.2.9")});
  CHECK(a.as4_aggregator == Aggregator{4200000003u, ip("192.0.2.9")});
  CHECK(a.as4_path.has_value());

  SUBCASE("an AGGREGATOR that is not AS_TRANS makes both AS4 attributes ignored") {
    Bytes changed = attrs;
    changed[27] = 0xFD;  // aggregator AS 65001 instead of AS_TRANS
    changed[28] = 0xE9;
    auto d2 = decoded_update(update_body({}, changed, kNlri), two_octet());
    const auto& a2 = upd(d2).attrs;
    CHECK(a2.aggregator == Aggregator{65001, ip("192.0.2.9")});
    CHECK_FALSE(a2.as4_path);
    CHECK_FALSE(a2.as4_aggregator);
    CHECK((*a2.as_path)[0].asns == std::vector<std::uint32_t>{65001, kAsTrans, kAsTrans, 65002});
    CHECK_FALSE(d2.problems.empty());
  }
}

TEST_CASE("RFC 6793: an AS4_PATH longer than AS_PATH is ignored") {
  const Bytes attrs = {
      0x40, 0x01, 0x01, 0x00,                    // ORIGIN IGP
      0x40, 0x02, 0x04, 0x02, 0x01, 0x5B, 0xA0,  // AS_PATH: AS_SEQUENCE [AS_TRANS]
      0x40, 0x03, 0x04, 0xC0, 0x00, 0x02, 0x01,  // NEXT_HOP
      0xC0, 0x11, 0x0A,                          // AS4_PATH, length 10
      0x02, 0x02,                                //   AS_SEQUENCE of 2
      0xFA, 0x56, 0xEA, 0x01, 0xFA, 0x56, 0xEA, 0x02,
  };
  auto d = decoded_update(update_body({}, attrs, kNlri), two_octet());
  CHECK(*upd(d).attrs.as_path == AsPath{{AsSegmentType::AsSequence, {kAsTrans}}});
  CHECK_FALSE(upd(d).attrs.as4_path);
}

TEST_CASE("RFC 7606 7: malformed attributes give the RFC's outcome, not a reset") {
  struct Case {
    std::string name;
    Bytes attr;
    ErrorAction action;
    CodecOptions opts;
  };
  const std::vector<Case> cases = {
      {"ORIGIN length 2", {0x40, 0x01, 0x02, 0x00, 0x00}, ErrorAction::TreatAsWithdraw, {}},
      {"ORIGIN value 3", {0x40, 0x01, 0x01, 0x03}, ErrorAction::TreatAsWithdraw, {}},
      {"ORIGIN flagged optional", {0xC0, 0x01, 0x01, 0x00}, ErrorAction::TreatAsWithdraw, {}},
      {"AS_PATH zero-length segment", {0x40, 0x02, 0x02, 0x02, 0x00}, ErrorAction::TreatAsWithdraw, {}},
      {"AS_PATH segment type 5", {0x40, 0x02, 0x06, 0x05, 0x01, 0, 0, 0xFD, 0xE9}, ErrorAction::TreatAsWithdraw, {}},
      {"AS_PATH segment overrun", {0x40, 0x02, 0x06, 0x02, 0x02, 0, 0, 0xFD, 0xE9}, ErrorAction::TreatAsWithdraw, {}},
      {"AS_PATH AS 0 (RFC 7607)", {0x40, 0x02, 0x06, 0x02, 0x01, 0, 0, 0, 0}, ErrorAction::TreatAsWithdraw, {}},
      {"NEXT_HOP length 5", {0x40, 0x03, 0x05, 192, 0, 2, 1, 0}, ErrorAction::TreatAsWithdraw, {}},
      {"MED length 3", {0x80, 0x04, 0x03, 0, 0, 1}, ErrorAction::TreatAsWithdraw, {}},
      {"MED flagged transitive", {0xC0, 0x04, 0x04, 0, 0, 0, 1}, ErrorAction::TreatAsWithdraw, {}},
      {"LOCAL_PREF from eBGP", {0x40, 0x05, 0x04, 0, 0, 0, 100}, ErrorAction::AttributeDiscard, {}},
      {"LOCAL_PREF length 3 from iBGP", {0x40, 0x05, 0x03, 0, 0, 100}, ErrorAction::TreatAsWithdraw, ibgp()},
      {"ATOMIC_AGGREGATE length 1", {0x40, 0x06, 0x01, 0x00}, ErrorAction::AttributeDiscard, {}},
      {"AGGREGATOR length 6 on 4-octet session", {0xC0, 0x07, 0x06, 0xFD, 0xE9, 192, 0, 2, 1}, ErrorAction::AttributeDiscard, {}},
      {"AGGREGATOR AS 0", {0xC0, 0x07, 0x08, 0, 0, 0, 0, 192, 0, 2, 1}, ErrorAction::AttributeDiscard, {}},
      {"COMMUNITIES length 5", {0xC0, 0x08, 0x05, 0, 0, 0, 1, 2}, ErrorAction::TreatAsWithdraw, {}},
      {"COMMUNITIES length 0", {0xC0, 0x08, 0x00}, ErrorAction::TreatAsWithdraw, {}},
      {"EXTENDED_COMMUNITIES length 7", {0xC0, 0x10, 0x07, 0, 2, 0, 0, 0, 0, 1}, ErrorAction::TreatAsWithdraw, {}},
      {"LARGE_COMMUNITIES length 13", {0xC0, 0x20, 0x0D, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 4}, ErrorAction::TreatAsWithdraw, {}},
      {"AS4_PATH on a 4-octet session", {0xC0, 0x11, 0x06, 0x02, 0x01, 0, 0, 0xFD, 0xE9}, ErrorAction::AttributeDiscard, {}},
      {"AS4_PATH malformed", {0xC0, 0x11, 0x03, 0x02, 0x01, 0x00}, ErrorAction::AttributeDiscard, two_octet()},
      {"AS4_PATH with a confederation segment", {0xC0, 0x11, 0x06, 0x03, 0x01, 0, 0, 0xFD, 0xE9}, ErrorAction::AttributeDiscard, two_octet()},
      {"AS4_AGGREGATOR length 6", {0xC0, 0x12, 0x06, 0xFD, 0xE9, 192, 0, 2, 1}, ErrorAction::AttributeDiscard, two_octet()},
      {"duplicate ORIGIN", {0x40, 0x01, 0x01, 0x02}, ErrorAction::AttributeDiscard, {}},
      // RFC 9234 5: an OTC whose length is not 4 is malformed: treat-as-withdraw.
      {"OTC length 3", {0xC0, 0x23, 0x03, 0x00, 0xFD, 0xE9}, ErrorAction::TreatAsWithdraw, {}},
      {"OTC length 5", {0xC0, 0x23, 0x05, 0x00, 0x00, 0xFD, 0xE9, 0x00}, ErrorAction::TreatAsWithdraw, {}},
      {"OTC length 0", {0xC0, 0x23, 0x00}, ErrorAction::TreatAsWithdraw, {}},
      {"OTC flagged non-transitive", {0x80, 0x23, 0x04, 0x00, 0x00, 0xFD, 0xE9}, ErrorAction::TreatAsWithdraw, {}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    // The mandatory attributes the case does not replace come first, then the case's
    // attribute; on a 2-octet session the AS_PATH carries 2-octet ASes.
    const Bytes as_path2 = {0x40, 0x02, 0x04, 0x02, 0x01, 0xFD, 0xE9};  // AS_SEQUENCE [65001]
    const bool dup = c.name.rfind("duplicate", 0) == 0;
    const std::uint8_t t = c.attr[1];
    Bytes attrs = cat({(t == 1 && !dup) ? Bytes{} : kOrigin,
                       t == 2 ? Bytes{} : (c.opts.four_octet_as ? kAsPath : as_path2),
                       t == 3 ? Bytes{} : kNextHop, c.attr});
    auto d = decoded_update(update_body({}, attrs, kNlri), c.opts);
    CHECK(d.action == c.action);
    CHECK_FALSE(d.problems.empty());
    CHECK(upd(d).nlri.size() == 1);  // the routes are reported so the caller can withdraw them
  }
}

TEST_CASE("RFC 7606 effects on the decoded value") {
  SUBCASE("a repeated attribute keeps the first copy") {
    const Bytes second_origin = {0x40, 0x01, 0x01, 0x02};  // ORIGIN incomplete, repeated
    auto d = decoded_update(update_body({}, cat({kMandatory, second_origin}), kNlri));
    CHECK(upd(d).attrs.origin == Origin::Igp);
  }
  SUBCASE("LOCAL_PREF is read from internal peers") {
    const Bytes lp = {0x40, 0x05, 0x04, 0, 0, 0, 200};  // LOCAL_PREF 200
    auto d = decoded_update(update_body({}, cat({kMandatory, lp}), kNlri), ibgp());
    CHECK(d.action == ErrorAction::None);
    CHECK(upd(d).attrs.local_pref == 200u);
    auto e = decoded_update(update_body({}, cat({kMandatory, lp}), kNlri));
    CHECK_FALSE(upd(e).attrs.local_pref);
  }
  SUBCASE("duplicate large communities are removed (RFC 8092 5)") {
    const Bytes lc = {0xC0, 0x20, 0x24,                  // LARGE_COMMUNITIES, length 36
                      0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,  // 1:2:3
                      0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6,  // 4:5:6
                      0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}; // 1:2:3 again
    auto d = decoded_update(update_body({}, cat({kMandatory, lc}), kNlri));
    CHECK(d.action == ErrorAction::None);
    CHECK(upd(d).attrs.large_communities == std::vector<LargeCommunity>{{1, 2, 3}, {4, 5, 6}});
  }
  SUBCASE("an MP_REACH of a family herald does not speak is kept as bytes") {
    const Bytes mp = {0x80, 0x0E, 0x05,  // MP_REACH_NLRI, length 5
                      0x00, 0x01,        // AFI 1
                      0x80,              // SAFI 128 (VPN)
                      0x00,              // next hop length 0
                      0x00};             // reserved
    auto d = decoded_update(update_body({}, mp, {}));
    CHECK(d.action == ErrorAction::None);
    REQUIRE(upd(d).attrs.unknown.size() == 1);
    CHECK(upd(d).attrs.unknown[0] == RawAttribute{0x80, 14, {0x00, 0x01, 0x80, 0x00, 0x00}});
  }
}

TEST_CASE("RFC 7606 3.d: missing mandatory attributes with NLRI are treat-as-withdraw") {
  auto d = decoded_update(update_body({}, cat({kOrigin, kAsPath}), kNlri));
  CHECK(d.action == ErrorAction::TreatAsWithdraw);
  REQUIRE(d.problems.size() == 1);
  CHECK(d.problems[0].find("NEXT_HOP") != std::string::npos);
  d = decoded_update(update_body({}, kNextHop, kNlri));
  CHECK(d.action == ErrorAction::TreatAsWithdraw);
  CHECK(d.problems.size() == 2);  // ORIGIN and AS_PATH
  // Without NLRI nothing is mandatory.
  CHECK(decoded_update(update_body({0x18, 0xC6, 0x33, 0x64}, {}, {})).action == ErrorAction::None);
  // MP_REACH NLRI need ORIGIN and AS_PATH but no NEXT_HOP.
  const Bytes mp = {0x80, 0x0E, 0x18,  // MP_REACH_NLRI, length 24
                    0x00, 0x02, 0x01,  // IPv6 unicast
                    0x10,              // next hop length 16
                    0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,  // 2001:db8::1
                    0x00,              // reserved
                    0x10, 0x20, 0x01}; // 2001::/16
  CHECK(decoded_update(update_body({}, cat({mp, kOrigin, kAsPath}), {})).action == ErrorAction::None);
  CHECK(decoded_update(update_body({}, cat({mp, kOrigin}), {})).action == ErrorAction::TreatAsWithdraw);
}

TEST_CASE("RFC 7606 4: an attribute overrunning the attribute list is treat-as-withdraw") {
  const Bytes overrun = {0xC0, 0x08, 0x08,   // COMMUNITIES claiming 8 octets
                         0xFD, 0xE9};        // only 2 present
  auto d = decoded_update(update_body({}, cat({kMandatory, overrun}), kNlri));
  CHECK(d.action == ErrorAction::TreatAsWithdraw);
  CHECK(upd(d).nlri == std::vector<Prefix>{pfx("198.51.100.0/24")});  // NLRI still located
  const Bytes stub = {0x40, 0x01};  // two stray octets
  CHECK(decoded_update(update_body({}, cat({kMandatory, stub}), kNlri)).action == ErrorAction::TreatAsWithdraw);
  // An overrunning MP_REACH hides NLRI: reset.
  const Bytes mp_overrun = {0x80, 0x0E, 0x20, 0x00, 0x02, 0x01};
  CHECK(reset(update_body({}, mp_overrun, {})) == Notification{3, 1, {}});
}

TEST_CASE("UPDATE errors that reset the session") {
  SUBCASE("withdrawn routes length beyond the message: 3/1") {
    const Bytes b = {0x00, 0x05,  // withdrawn length 5
                     0x18, 0xC6}; // only 2 octets follow
    CHECK(reset(b) == Notification{3, 1, {}});
  }
  SUBCASE("total attribute length beyond the message: 3/1") {
    const Bytes b = {0x00, 0x00,             // no withdrawn routes
                     0x00, 0x09,             // attribute length 9
                     0x40, 0x01, 0x01, 0x00};// only 4 octets follow
    CHECK(reset(b) == Notification{3, 1, {}});
  }
  SUBCASE("NLRI prefix longer than 32: 3/10") {
    CHECK(reset(update_body({}, kMandatory, {0x21, 1, 2, 3, 4, 5})) == Notification{3, 10, {}});
  }
  SUBCASE("NLRI overrunning the message: 3/10") {
    CHECK(reset(update_body({}, kMandatory, {0x18, 0xC6, 0x33})) == Notification{3, 10, {}});
  }
  SUBCASE("withdrawn prefix longer than 32: 3/10") {
    CHECK(reset(update_body({0x28, 1, 2, 3, 4, 5}, {}, {})) == Notification{3, 10, {}});
  }
  SUBCASE("MP_REACH_NLRI twice: 3/1") {
    const Bytes mp = {0x80, 0x0F, 0x03, 0x00, 0x02, 0x01};  // MP_UNREACH IPv6 unicast, empty
    CHECK(reset(update_body({}, cat({mp, mp}), {})) == Notification{3, 1, {}});
  }
  SUBCASE("IPv6 next hop of 4 octets: 3/9 with the attribute") {
    const Bytes mp = {0x80, 0x0E, 0x0A,        // MP_REACH_NLRI, length 10
                      0x00, 0x02, 0x01,        // IPv6 unicast
                      0x04,                    // next hop length 4 (wrong for IPv6)
                      0xC0, 0x00, 0x02, 0x01,  // 192.0.2.1
                      0x00,                    // reserved
                      0x00};                   // ::/0
    CHECK(reset(update_body({}, cat({mp, kOrigin, kAsPath}), {})) == Notification{3, 9, mp});
  }
  SUBCASE("MP_REACH prefix longer than 128: 3/10") {
    const Bytes mp = {0x80, 0x0E, 0x16,  // MP_REACH_NLRI, length 22
                      0x00, 0x02, 0x01,  // IPv6 unicast
                      0x10,              // next hop length 16
                      0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
                      0x00,              // reserved
                      0x81};             // prefix length 129
    CHECK(reset(update_body({}, cat({mp, kOrigin, kAsPath}), {})) == Notification{3, 10, {}});
  }
  SUBCASE("MP_UNREACH shorter than AFI + SAFI: 3/9") {
    const Bytes mp = {0x80, 0x0F, 0x02, 0x00, 0x02};
    CHECK(reset(update_body({}, mp, {})) == Notification{3, 9, mp});
  }
  SUBCASE("MP_REACH with well-known flags: 3/4 with the attribute") {
    const Bytes mp = {0x40, 0x0F, 0x03, 0x00, 0x02, 0x01};
    CHECK(reset(update_body({}, mp, {})) == Notification{3, 4, mp});
  }
  SUBCASE("unrecognised well-known attribute: 3/2 with the attribute") {
    const Bytes unknown = {0x40, 0x63, 0x02, 0xAB, 0xCD};  // well-known transitive type 99
    CHECK(reset(update_body({}, cat({kMandatory, unknown}), kNlri)) == Notification{3, 2, unknown});
  }
}

TEST_CASE("confederation segments and 2-octet AS_PATH encoding") {
  const Bytes attrs = {
      0x40, 0x01, 0x01, 0x00,        // ORIGIN IGP
      0x40, 0x02, 0x0C,              // AS_PATH, length 12 (2-octet ASes)
      0x03, 0x01, 0xFD, 0xF3,        //   AS_CONFED_SEQUENCE [65011]
      0x04, 0x01, 0xFD, 0xF4,        //   AS_CONFED_SET {65012}
      0x02, 0x01, 0x5B, 0xA0,        //   AS_SEQUENCE [AS_TRANS]
      0x40, 0x03, 0x04, 0xC0, 0x00, 0x02, 0x01,  // NEXT_HOP
  };
  CodecOptions old;
  old.four_octet_as = false;
  auto d = decoded_update(update_body({}, attrs, kNlri), old);
  CHECK(d.action == ErrorAction::None);
  CHECK(*upd(d).attrs.as_path == AsPath{{AsSegmentType::ConfedSequence, {65011}},
                                         {AsSegmentType::ConfedSet, {65012}},
                                         {AsSegmentType::AsSequence, {kAsTrans}}});
  // Re-encoding for the same 2-octet peer gives the same octets back.
  CHECK(encode(upd(d), old) == with_header(MessageType::Update, update_body({}, attrs, kNlri)));
}

TEST_CASE("unknown attributes come back in type order") {
  const Bytes attrs = {0xC0, 0x63, 0x01, 0x01,   // optional transitive type 99
                       0x80, 0x29, 0x04, 1, 2, 3, 4};  // optional type 41 (unknown to herald)
  auto u = upd(decoded_update(update_body({}, attrs, {})));
  REQUIRE(u.attrs.unknown.size() == 2);
  CHECK(u.attrs.unknown[0].type == 41);
  CHECK(u.attrs.unknown[1].type == 99);
}

TEST_CASE("RFC 9234 5: the OTC attribute decodes, encodes and round-trips byte for byte") {
  const Bytes otc = {0xC0,                     // optional transitive
                     0x23,                     // type 35, ONLY_TO_CUSTOMER (OTC)
                     0x04,                     // length 4
                     0x00, 0x00, 0xFD, 0xE9};  // AS 65001
  const Bytes b = update_body({}, cat({kMandatory, otc}), kNlri);
  auto d = decoded_update(b);
  CHECK(d.action == ErrorAction::None);
  CHECK(d.problems.empty());
  CHECK(upd(d).attrs.otc == 65001u);
  CHECK(upd(d).attrs.unknown.empty());  // a known attribute, not kept as raw bytes
  // It goes out after LARGE_COMMUNITIES (32), in type order: the same octets come back.
  CHECK(encode(upd(d), CodecOptions{}) == with_header(MessageType::Update, b));

  SUBCASE("a 4-octet AS beyond 65535 is kept whole") {
    const Bytes big = {0xC0, 0x23, 0x04, 0xFA, 0x56, 0xEA, 0x01};  // OTC 4200000001
    CHECK(upd(decoded_update(update_body({}, cat({kMandatory, big}), kNlri))).attrs.otc == 4200000001u);
  }
  SUBCASE("a malformed OTC names the attribute and leaves no value") {
    const Bytes bad = {0xC0, 0x23, 0x02, 0xFD, 0xE9};  // length 2
    auto m = decoded_update(update_body({}, cat({kMandatory, bad}), kNlri));
    CHECK(m.action == ErrorAction::TreatAsWithdraw);
    REQUIRE(m.problems.size() == 1);
    CHECK(m.problems[0] == "OTC: length 2, expected 4 (treat-as-withdraw)");
    CHECK_FALSE(upd(m).attrs.otc);
  }
  SUBCASE("a repeated OTC keeps the first copy (RFC 7606 3.g)") {
    const Bytes second = {0xC0, 0x23, 0x04, 0x00, 0x00, 0xFD, 0xEA};  // OTC 65002
    auto r = decoded_update(update_body({}, cat({kMandatory, otc, second}), kNlri));
    CHECK(r.action == ErrorAction::AttributeDiscard);
    CHECK(upd(r).attrs.otc == 65001u);
  }
}

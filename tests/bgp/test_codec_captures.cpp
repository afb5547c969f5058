// Messages captured from real BIRD 2.0.12 and FRR 8.4.4 (tests/data/capture.py): the routers
// are AS 65001 with router id 192.0.2.1 and export static routes tagged with MED 50,
// community 65001:100 (FRR also 65001:200) and large community 65001:1:2.
#include <algorithm>

#include "bgp/otc.hpp"
#include "codec_test_util.hpp"

using namespace herald::bgp;
using namespace herald::bgp::test;

namespace {

Decoded decode_capture(const char* name) {
  const Bytes wire = read_file(name);
  auto d = decode_wire(wire);
  REQUIRE_MESSAGE(d.has_value(), name << ": " << d.error().describe());
  CHECK(d->action == ErrorAction::None);
  CHECK(d->problems.empty());
  // Whatever a real router sends must survive our encoder.
  auto again = decode_wire(encode(d->message, {}));
  REQUIRE(again);
  CHECK(again->message == d->message);
  return std::move(d.value());
}

bool has_unknown_cap(const Open& o, std::uint8_t code) {
  return std::any_of(o.caps.unknown.begin(), o.caps.unknown.end(),
                     [&](const RawCapability& c) { return c.code == code; });
}

OpenPolicy herald_side() {
  OpenPolicy p;
  p.local_as = 65002;
  p.local_bgp_id = 0xC0000202;  // 192.0.2.2
  p.peer_as = 65001;
  p.require_four_octet_as = true;
  return p;
}

void check_common_attrs(const PathAttributes& a) {
  CHECK(a.origin == Origin::Igp);
  CHECK(a.as_path == AsPath{{AsSegmentType::AsSequence, {65001}}});
  CHECK(a.med == 50u);
  CHECK(a.large_communities == std::vector<LargeCommunity>{{65001, 1, 2}});
  CHECK_FALSE(a.local_pref);
}

}  // namespace

TEST_CASE("BIRD OPEN") {
  for (const char* name : {"bird_open.bin", "bird_open_v6.bin"}) {
    CAPTURE(name);
    auto d = decode_capture(name);
    const auto& o = std::get<Open>(d.message);
    CHECK(o.version == 4);
    CHECK(o.my_as == 65001);
    CHECK(o.hold_time == 240);
    CHECK(o.bgp_id == 0xC0000201u);
    CHECK(o.caps.four_octet_as == 65001u);
    CHECK(o.caps.route_refresh);
    CHECK(o.caps.enhanced_route_refresh);
    REQUIRE(o.caps.graceful_restart);
    CHECK(o.caps.graceful_restart->restart_time == 120);
    CHECK(o.caps.graceful_restart->families.empty());
    CHECK(has_unknown_cap(o, 71));  // long-lived graceful restart
    auto p = herald_side();
    p.required_families = {std::string(name) == "bird_open.bin" ? kIpv4Unicast : kIpv6Unicast};
    CHECK_FALSE(validate_open(o, p));
  }
  CHECK(std::get<Open>(decode_capture("bird_open.bin").message).caps.multiprotocol ==
        std::vector<Family>{kIpv4Unicast});
  CHECK(std::get<Open>(decode_capture("bird_open_v6.bin").message).caps.multiprotocol ==
        std::vector<Family>{kIpv6Unicast});
}

TEST_CASE("FRR OPEN (one capability per optional parameter)") {
  auto d = decode_capture("frr_open.bin");
  const auto& o = std::get<Open>(d.message);
  CHECK(o.my_as == 65001);
  CHECK(o.hold_time == 180);
  CHECK(o.bgp_id == 0xC0000201u);
  CHECK(o.caps.multiprotocol == std::vector<Family>{kIpv4Unicast});
  CHECK(o.caps.route_refresh);
  CHECK(o.caps.enhanced_route_refresh);
  CHECK(o.caps.extended_message);
  CHECK(o.caps.four_octet_as == 65001u);
  REQUIRE(o.caps.fqdn);
  CHECK(o.caps.fqdn->hostname == "frr-capture");
  CHECK(o.caps.fqdn->domain.empty());
  REQUIRE(o.caps.graceful_restart);
  CHECK(o.caps.graceful_restart->notification);  // RFC 8538 N bit
  CHECK(o.caps.graceful_restart->restart_time == 120);
  CHECK(has_unknown_cap(o, 69));   // ADD-PATH
  CHECK(has_unknown_cap(o, 128));  // pre-standard route refresh
  CHECK_FALSE(validate_open(o, herald_side()));
  auto v6 = decode_capture("frr_open_v6.bin");
  CHECK(std::get<Open>(v6.message).caps.multiprotocol == std::vector<Family>{kIpv6Unicast});
}

TEST_CASE("BIRD IPv4 UPDATE") {
  auto d = decode_capture("bird_update_v4.bin");
  const auto& u = std::get<Update>(d.message);
  CHECK(u.withdrawn.empty());
  CHECK(u.nlri == std::vector<Prefix>{pfx("198.51.100.0/24"), pfx("203.0.113.128/25")});
  check_common_attrs(u.attrs);
  CHECK(u.attrs.next_hop == ip("192.0.2.1"));
  CHECK(u.attrs.communities == std::vector<Community>{(65001u << 16) | 100u});
}

TEST_CASE("FRR IPv4 UPDATE") {
  auto d = decode_capture("frr_update_v4.bin");
  const auto& u = std::get<Update>(d.message);
  CHECK(u.nlri == std::vector<Prefix>{pfx("198.51.100.0/24"), pfx("203.0.113.128/25")});
  check_common_attrs(u.attrs);
  CHECK(u.attrs.next_hop == ip("192.0.2.1"));
  CHECK(u.attrs.communities == std::vector<Community>{(65001u << 16) | 100u, (65001u << 16) | 200u});
}

TEST_CASE("BIRD and FRR IPv6 UPDATEs carry global and link-local next hops") {
  for (const char* name : {"bird_update_v6.bin", "frr_update_v6.bin"}) {
    CAPTURE(name);
    auto d = decode_capture(name);
    const auto& u = std::get<Update>(d.message);
    CHECK(u.nlri.empty());
    CHECK_FALSE(u.attrs.next_hop);
    check_common_attrs(u.attrs);
    REQUIRE(u.attrs.mp_reach);
    CHECK(u.attrs.mp_reach->family == kIpv6Unicast);
    CHECK(u.attrs.mp_reach->next_hop == ip("2001:db8:1::1"));
    REQUIRE(u.attrs.mp_reach->link_local_next_hop);
    CHECK(u.attrs.mp_reach->link_local_next_hop->is_link_local());
    CHECK(u.attrs.mp_reach->nlri == std::vector<Prefix>{pfx("2001:db8:100::/48"), pfx("2001:db8:200::/56")});
  }
}

// RFC 9234 with real routers: each is the provider of a speaker that announces the role customer.
TEST_CASE("BIRD and FRR as providers: the Role capability, and OTC on what they send a customer") {
  for (const char* router : {"bird", "frr"}) {
    CAPTURE(router);
    auto o = decode_capture((std::string(router) + "_open_role.bin").c_str());
    const auto& open = std::get<Open>(o.message);
    CHECK(open.caps.role == Role::Provider);
    OpenPolicy customer = herald_side();
    customer.local_role = Role::Customer;
    customer.strict_role = true;
    CHECK_FALSE(validate_open(open, customer));  // provider pairs with customer (RFC 9234 4.2)
    customer.local_role = Role::Peer;
    REQUIRE(validate_open(open, customer));      // and with nothing else: Role Mismatch
    CHECK(validate_open(open, customer)->subcode == static_cast<std::uint8_t>(OpenSubcode::RoleMismatch));

    auto d = decode_capture((std::string(router) + "_update_otc.bin").c_str());
    const auto& u = std::get<Update>(d.message);
    CHECK(u.nlri == std::vector<Prefix>{pfx("198.51.100.0/24"), pfx("203.0.113.128/25")});
    check_common_attrs(u.attrs);
    CHECK(u.attrs.otc == 65001u);  // egress rule 1: OTC = the provider's own AS
    CHECK(u.attrs.unknown.empty());
    // As the customer herald takes it; had herald been told it is the provider, it is a leak.
    CHECK_FALSE(otc_on_ingress(Role::Customer, 65001, u.attrs.otc).leak);
    CHECK(otc_on_ingress(Role::Provider, 65001, u.attrs.otc).leak);
  }
}

// NSID (RFC 5001) on the wire: the EDNS option in the query, the option parser over OPT RDATA,
// and the NSID carried from a reply into the verdict; plus the SOA serial a reply carries.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "health/dns_wire.hpp"

namespace health = herald::health;

using health::DnsVerdictKind;
using Bytes = std::vector<std::uint8_t>;

namespace {

health::DnsCheckSpec www_a_nsid() {
  health::DnsCheckSpec s;
  s.server = "192.0.2.53";
  s.qname = "www.example.";
  s.qtype = "A";
  s.edns_udp_size = 1232;
  s.nsid = true;
  return s;
}

// Header + "www.example. IN A" (RFC 1035 4.1.1, 4.1.2), id 0x1234, one answer 192.0.2.53 and
// an OPT record in the additional section whose RDATA is `opt_rdata`.
Bytes reply_with_opt(const Bytes& opt_rdata) {
  const Bytes head = {
      0x12, 0x34,  // ID
      0x84, 0x00,  // QR=1 AA=1 | RCODE NOERROR
      0x00, 0x01,  // QDCOUNT
      0x00, 0x01,  // ANCOUNT
      0x00, 0x00,  // NSCOUNT
      0x00, 0x01,  // ARCOUNT: the OPT
      0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x00,  // QNAME
      0x00, 0x01,  // QTYPE A
      0x00, 0x01,  // QCLASS IN
      0xc0, 0x0c,  // answer NAME: pointer to the question name
      0x00, 0x01, 0x00, 0x01,  // TYPE A, CLASS IN
      0x00, 0x00, 0x00, 0x3c,  // TTL 60
      0x00, 0x04, 192, 0, 2, 53,  // RDLENGTH 4, 192.0.2.53
      0x00,        // OPT NAME: root
      0x00, 0x29,  // TYPE OPT (41)
      0x04, 0xd0,  // CLASS: UDP payload size 1232
      0x00, 0x00, 0x00, 0x00,  // extended RCODE, VERSION, DO, Z
      static_cast<std::uint8_t>(opt_rdata.size() >> 8), static_cast<std::uint8_t>(opt_rdata.size()),
  };
  Bytes b;
  b.reserve(head.size() + opt_rdata.size());
  for (const auto part : {&head, &opt_rdata}) b.insert(b.end(), part->begin(), part->end());
  return b;
}

health::DnsProbe probe_of(const health::DnsCheckSpec& s) {
  auto p = health::make_dns_probe(s, 0x1234);
  REQUIRE(p.has_value());
  return *p;
}

}  // namespace

TEST_CASE("NSID request: the OPT record carries option 3 with no data (RFC 5001 2.1)") {
  const auto p = probe_of(www_a_nsid());
  REQUIRE(p.wire.size() >= 15);
  const Bytes opt(p.wire.end() - 15, p.wire.end());
  CHECK(opt == Bytes{
                   0x00,                    // NAME root
                   0x00, 0x29,              // TYPE OPT
                   0x04, 0xd0,              // UDP payload size 1232
                   0x00, 0x00, 0x00, 0x00,  // extended RCODE, VERSION, DO, Z
                   0x00, 0x04,              // RDLENGTH 4
                   0x00, 0x03,              // OPTION-CODE NSID
                   0x00, 0x00,              // OPTION-LENGTH 0
               });
  CHECK(p.wire[11] == 1);  // ARCOUNT
}

TEST_CASE("NSID needs EDNS") {
  auto s = www_a_nsid();
  s.edns_udp_size.reset();
  CHECK(health::make_dns_probe(s, 1).error() == "nsid needs EDNS");
}

TEST_CASE("encode_edns_option: code, length, data") {
  CHECK(health::encode_edns_option(3) == Bytes{0x00, 0x03, 0x00, 0x00});
  const Bytes data = {'a', 'b'};
  CHECK(health::encode_edns_option(10, data) == Bytes{0x00, 0x0a, 0x00, 0x02, 'a', 'b'});
}

TEST_CASE("find_edns_option: finds the option after others, refuses lengths past the end") {
  const Bytes rdata = {
      0x00, 0x0a, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,  // COOKIE (10), 8 bytes
      0x00, 0x03, 0x00, 0x03, 'n', 's', '1',           // NSID "ns1"
  };
  CHECK(health::find_edns_option(rdata, 3) == Bytes{'n', 's', '1'});
  CHECK(health::find_edns_option(rdata, 10) == Bytes{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK_FALSE(health::find_edns_option(rdata, 12).has_value());  // no PADDING here
  const Bytes empty_nsid = {0x00, 0x03, 0x00, 0x00};
  CHECK(health::find_edns_option(empty_nsid, 3) == Bytes{});
  const Bytes too_long = {0x00, 0x03, 0x00, 0x05, 'a', 'b'};  // says 5 bytes, has 2
  CHECK_FALSE(health::find_edns_option(too_long, 3).has_value());
  const Bytes cut_header = {0x00, 0x03, 0x00};  // a header cut short
  CHECK_FALSE(health::find_edns_option(cut_header, 3).has_value());
  CHECK_FALSE(health::find_edns_option({}, 3).has_value());
}

TEST_CASE("nsid_text: printable text as is, anything else in hex") {
  const Bytes text = {'u', 'n', 'b', '-', 'a'};
  CHECK(health::nsid_text(text) == "unb-a");
  const Bytes binary = {0x00, 0xff, 0x10};
  CHECK(health::nsid_text(binary) == "0x00ff10");
  CHECK(health::nsid_text({}) == "0x");
}

TEST_CASE("a passing reply carries the NSID the server returned") {
  const auto p = probe_of(www_a_nsid());
  const auto v = health::judge_dns_reply(reply_with_opt({0x00, 0x03, 0x00, 0x02, 's', '1'}), p);
  CHECK(v.kind == DnsVerdictKind::Pass);
  CHECK(v.nsid == Bytes{'s', '1'});
  // A server that does not support NSID sends no option: nothing to show.
  const auto none = health::judge_dns_reply(reply_with_opt({}), p);
  CHECK(none.kind == DnsVerdictKind::Pass);
  CHECK_FALSE(none.nsid.has_value());
  // Not asked: not reported, even when a server sends one.
  auto s = www_a_nsid();
  s.nsid = false;
  CHECK_FALSE(health::judge_dns_reply(reply_with_opt({0x00, 0x03, 0x00, 0x02, 's', '1'}), probe_of(s)).nsid);
}

TEST_CASE("a reply to a SOA query carries the serial of its SOA answer") {
  health::DnsCheckSpec s;
  s.server = "192.0.2.53";
  s.qname = "example.";
  s.qtype = "SOA";
  const auto p = probe_of(s);
  Bytes b = {
      0x12, 0x34, 0x84, 0x00,  // ID, QR=1 AA=1, NOERROR
      0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  // QD 1, AN 1, NS 0, AR 0
      0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x00,  // QNAME example.
      0x00, 0x06, 0x00, 0x01,  // QTYPE SOA, QCLASS IN
      0xc0, 0x0c,              // NAME -> example.
      0x00, 0x06, 0x00, 0x01,  // TYPE SOA, CLASS IN
      0x00, 0x00, 0x0e, 0x10,  // TTL 3600
      0x00, 0x1d,              // RDLENGTH 29 = 5 + 4 + 5 x 4
      0x02, 'n', 's', 0xc0, 0x0c,  // MNAME ns.example.
      0x01, 'h', 0xc0, 0x0c,       // RNAME h.example.
      0x78, 0xb5, 0xad, 0x81,      // SERIAL 2025172353
      0x00, 0x00, 0x0e, 0x10,      // REFRESH 3600
      0x00, 0x00, 0x03, 0x84,      // RETRY 900
      0x00, 0x09, 0x3a, 0x80,      // EXPIRE 604800
      0x00, 0x00, 0x01, 0x2c,      // MINIMUM 300
  };
  const auto v = health::judge_dns_reply(b, p);
  REQUIRE(v.kind == DnsVerdictKind::Pass);
  CHECK(v.soa_serial == 0x78b5ad81u);
}

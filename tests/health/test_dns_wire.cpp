// DNS query building and reply judging, on hand-written byte vectors (RFC 1035 4.1).
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "health/dns_wire.hpp"

namespace health = herald::health;

using namespace std::chrono_literals;
using health::DnsVerdictKind;
using Bytes = std::vector<std::uint8_t>;

namespace {

health::DnsCheckSpec www_a() {
  health::DnsCheckSpec s;
  s.server = "192.0.2.53";
  s.qname = "www.example";  // relative: made absolute
  s.qtype = "A";
  return s;
}

health::DnsProbe probe(const health::DnsCheckSpec& s, std::uint16_t id = 0x1234) {
  auto p = health::make_dns_probe(s, id);
  REQUIRE(p.has_value());
  return *p;
}

// The question "www.example. IN A" (RFC 1035 4.1.2).
const Bytes kQuestion = {
    0x03, 'w', 'w', 'w',                      // label "www"
    0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e',  // label "example"
    0x00,                                     // root
    0x00, 0x01,                               // QTYPE A
    0x00, 0x01,                               // QCLASS IN
};

// A good reply to id 0x1234: one A record 192.0.2.53.
Bytes good_reply() {
  Bytes b = {
      0x12, 0x34,  // ID
      0x84, 0x00,  // QR=1 OPCODE=0 AA=1 TC=0 RD=0 | RA=0 Z=0 RCODE=0 (NOERROR)
      0x00, 0x01,  // QDCOUNT
      0x00, 0x01,  // ANCOUNT
      0x00, 0x00,  // NSCOUNT
      0x00, 0x00,  // ARCOUNT
  };
  b.insert(b.end(), kQuestion.begin(), kQuestion.end());
  const Bytes answer = {
      0xc0, 0x0c,              // NAME: pointer to the question name at offset 12
      0x00, 0x01,              // TYPE A
      0x00, 0x01,              // CLASS IN
      0x00, 0x00, 0x00, 0x3c,  // TTL 60
      0x00, 0x04,              // RDLENGTH
      192, 0, 2, 53,           // RDATA 192.0.2.53
  };
  b.insert(b.end(), answer.begin(), answer.end());
  return b;
}

constexpr std::size_t kFlags2 = 3;       // second flags byte: RA Z AD CD RCODE
constexpr std::size_t kAnswerRdata = 12 + 17 + 12;  // header + question + answer fixed part

}  // namespace

TEST_CASE("query wire: header, question, no EDNS") {
  auto p = probe(www_a());
  Bytes want = {
      0x12, 0x34,  // ID
      0x00, 0x00,  // QR=0 OPCODE=QUERY RD=0 | RCODE=0
      0x00, 0x01,  // QDCOUNT
      0x00, 0x00,  // ANCOUNT
      0x00, 0x00,  // NSCOUNT
      0x00, 0x00,  // ARCOUNT
  };
  want.insert(want.end(), kQuestion.begin(), kQuestion.end());
  CHECK(p.wire == want);
  CHECK(p.question.qname == "www.example.");
}

TEST_CASE("query wire: RD and an EDNS0 OPT record with the buffer size") {
  auto s = www_a();
  s.recursion_desired = true;
  s.edns_udp_size = 1232;
  auto p = probe(s, 0xbeef);
  REQUIRE(p.wire.size() == 12 + kQuestion.size() + 11);
  CHECK(p.wire[0] == 0xbe);  // ID high
  CHECK(p.wire[1] == 0xef);  // ID low
  CHECK(p.wire[2] == 0x01);  // RD
  CHECK(p.wire[11] == 1);    // ARCOUNT = 1 (the OPT)
  const Bytes opt(p.wire.end() - 11, p.wire.end());
  CHECK(opt == Bytes{
                   0x00,                    // NAME root
                   0x00, 0x29,              // TYPE OPT (41)
                   0x04, 0xd0,              // CLASS = UDP payload size 1232 (RFC 6891 6.1.2)
                   0x00, 0x00, 0x00, 0x00,  // extended RCODE, VERSION 0, DO=0, Z
                   0x00, 0x00,              // RDLENGTH 0
               });
}

TEST_CASE("invalid check specs are refused with the field named") {
  auto s = www_a();
  s.qtype = "NOSUCHTYPE";
  CHECK(health::make_dns_probe(s, 1).error() == "unknown type NOSUCHTYPE");
  s = www_a();
  s.accepted_rcodes = {"NOERROR", "BOGUS"};
  CHECK(health::make_dns_probe(s, 1).error() == "unknown rcode BOGUS");
  s = www_a();
  s.expect_answers = {"not-an-address"};
  CHECK(health::make_dns_probe(s, 1).error().rfind("bad expected answer", 0) == 0);
}

TEST_CASE("good answer passes, also with the expected value") {
  auto s = www_a();
  auto v = health::judge_dns_reply(good_reply(), probe(s));
  CHECK(v.kind == DnsVerdictKind::Pass);
  CHECK(v.reason == "rcode NOERROR, 1 answer(s)");
  s.expect_answers = {"192.0.2.53"};
  v = health::judge_dns_reply(good_reply(), probe(s));
  CHECK(v.kind == DnsVerdictKind::Pass);
  CHECK(v.reason == "rcode NOERROR, answer 192.0.2.53");
}

TEST_CASE("wrong answer fails with both values") {
  auto s = www_a();
  s.expect_answers = {"192.0.2.53"};
  auto r = good_reply();
  r[kAnswerRdata + 0] = 198;  // RDATA 198.51.100.7
  r[kAnswerRdata + 1] = 51;
  r[kAnswerRdata + 2] = 100;
  r[kAnswerRdata + 3] = 7;
  auto v = health::judge_dns_reply(r, probe(s));
  CHECK(v.kind == DnsVerdictKind::Fail);
  CHECK(v.reason == "answer 198.51.100.7 != expected 192.0.2.53");
}

TEST_CASE("every expected value must be in the answer") {
  auto s = www_a();
  s.expect_answers = {"192.0.2.53", "192.0.2.54"};  // the reply holds only 192.0.2.53
  auto v = health::judge_dns_reply(good_reply(), probe(s));
  CHECK(v.kind == DnsVerdictKind::Fail);
  CHECK(v.reason == "answer 192.0.2.53 != expected 192.0.2.54");
  s.expect_answers = {"192.0.2.53", "192.0.2.53"};
  CHECK(health::judge_dns_reply(good_reply(), probe(s)).kind == DnsVerdictKind::Pass);
}

TEST_CASE("a pass names the expected values and counts the other answers") {
  auto s = www_a();
  s.expect_answers = {"192.0.2.53"};
  Bytes r = good_reply();
  r[7] = 2;  // ANCOUNT 2
  const Bytes second = {
      0xc0, 0x0c,              // NAME: pointer to the question name
      0x00, 0x01,              // TYPE A
      0x00, 0x01,              // CLASS IN
      0x00, 0x00, 0x00, 0x3c,  // TTL 60
      0x00, 0x04,              // RDLENGTH
      198, 51, 100, 7,         // RDATA 198.51.100.7
  };
  r.insert(r.end(), second.begin(), second.end());
  auto v = health::judge_dns_reply(r, probe(s));
  CHECK(v.kind == DnsVerdictKind::Pass);
  CHECK(v.reason == "rcode NOERROR, answer 192.0.2.53 (+1 more)");
  s.expect_answers = {"198.51.100.7"};  // the second answer matches as well as the first
  v = health::judge_dns_reply(r, probe(s));
  CHECK(v.kind == DnsVerdictKind::Pass);
  CHECK(v.reason == "rcode NOERROR, answer 198.51.100.7 (+1 more)");
}

TEST_CASE("wrong id, wrong question, queries and garbage are ignored") {
  const auto p = probe(www_a());
  auto r = good_reply();
  r[1] = 0x35;  // ID 0x1235
  CHECK(health::judge_dns_reply(r, p).kind == DnsVerdictKind::Ignore);
  CHECK(health::judge_dns_reply(r, p).reason == "wrong id");

  r = good_reply();
  r[12 + 14] = 0x1c;  // QTYPE AAAA instead of A
  CHECK(health::judge_dns_reply(r, p).reason == "wrong question");
  r = good_reply();
  r[12 + 1] = 'x';  // name "xww.example."
  CHECK(health::judge_dns_reply(r, p).reason == "wrong question");

  r = good_reply();
  r[12 + 1] = 'W';  // "Www.example.": names compare case-insensitively (RFC 4343)
  CHECK(health::judge_dns_reply(r, p).kind == DnsVerdictKind::Pass);

  r = good_reply();
  r[2] = 0x04;  // QR=0: a query, not a reply
  CHECK(health::judge_dns_reply(r, p).reason == "not a response");

  CHECK(health::judge_dns_reply(Bytes{0x12, 0x34, 0x84}, p).reason == "short message");
  r = good_reply();
  r.resize(r.size() - 3);  // cut inside the answer RDATA, no TC bit
  CHECK(health::judge_dns_reply(r, p).reason.rfind("malformed", 0) == 0);
  Bytes garbage(64, 0xff);
  garbage[0] = 0x12;
  garbage[1] = 0x34;
  CHECK(health::judge_dns_reply(garbage, p).kind == DnsVerdictKind::Ignore);
}

TEST_CASE("rcodes outside the accepted set fail with their name") {
  auto p = probe(www_a());
  auto r = good_reply();
  r[kFlags2] = 0x02;  // RCODE SERVFAIL
  auto v = health::judge_dns_reply(r, p);
  CHECK(v.kind == DnsVerdictKind::Fail);
  CHECK(v.reason == "rcode SERVFAIL");
  r[kFlags2] = 0x05;  // RCODE REFUSED
  CHECK(health::judge_dns_reply(r, p).reason == "rcode REFUSED");

  // REFUSED without a question section (as unbound's access-control sends it) still counts.
  const Bytes bare = {
      0x12, 0x34,  // ID
      0x84, 0x05,  // QR=1 AA=1 | RCODE REFUSED
      0x00, 0x00,  // QDCOUNT 0
      0x00, 0x00,  // ANCOUNT
      0x00, 0x00,  // NSCOUNT
      0x00, 0x00,  // ARCOUNT
  };
  CHECK(health::judge_dns_reply(bare, p).reason == "rcode REFUSED");
  Bytes bare_ok = bare;
  bare_ok[3] = 0x00;  // NOERROR without a question: not an answer to our question
  CHECK(health::judge_dns_reply(bare_ok, p).reason == "wrong question");

  auto s = www_a();
  s.accepted_rcodes = {"NOERROR", "NXDOMAIN"};
  r[kFlags2] = 0x03;  // RCODE NXDOMAIN, now accepted
  CHECK(health::judge_dns_reply(r, probe(s)).kind == DnsVerdictKind::Pass);
}

TEST_CASE("TC bit asks for a TCP retry, also when the cut reply is not parseable") {
  const auto p = probe(www_a());
  auto r = good_reply();
  r[2] = 0x86;  // QR=1 AA=1 TC=1
  CHECK(health::judge_dns_reply(r, p).kind == DnsVerdictKind::Truncated);
  r.resize(r.size() - 3);  // ANCOUNT says 1 but the record is cut
  CHECK(health::judge_dns_reply(r, p).kind == DnsVerdictKind::Truncated);
  r[1] = 0x99;  // ... but only for our id
  CHECK(health::judge_dns_reply(r, p).kind == DnsVerdictKind::Ignore);
}

TEST_CASE("required answer and type-aware AAAA comparison") {
  auto s = www_a();
  s.require_answer = true;
  auto r = good_reply();
  r[7] = 0;                 // ANCOUNT 0
  r.resize(12 + kQuestion.size());  // no answer section
  auto v = health::judge_dns_reply(r, probe(s));
  CHECK(v.kind == DnsVerdictKind::Fail);
  CHECK(v.reason == "no answer");

  s = www_a();
  s.qtype = "AAAA";
  s.expect_answers = {"2001:0db8:0::53"};  // same address as 2001:db8::53, written differently
  auto p = probe(s);
  Bytes a = {
      0x12, 0x34, 0x84, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  // header as above
      0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x00,
      0x00, 0x1c,  // QTYPE AAAA
      0x00, 0x01,  // QCLASS IN
      0xc0, 0x0c,  // NAME pointer
      0x00, 0x1c,  // TYPE AAAA
      0x00, 0x01,  // CLASS IN
      0x00, 0x00, 0x00, 0x3c,  // TTL
      0x00, 0x10,              // RDLENGTH 16
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x53,  // 2001:db8::53
  };
  v = health::judge_dns_reply(a, p);
  CHECK(v.kind == DnsVerdictKind::Pass);
  a.back() = 0x54;  // 2001:db8::54
  v = health::judge_dns_reply(a, p);
  CHECK(v.reason == "answer 2001:db8::54 != expected 2001:db8::53");
}

TEST_CASE("rtt bound") {
  CHECK_FALSE(health::rtt_violation(299ms, 300ms).has_value());
  CHECK_FALSE(health::rtt_violation(900ms, std::nullopt).has_value());
  CHECK(health::rtt_violation(812ms, 300ms).value() == "rtt 812ms > 300ms");
}

TEST_CASE("query ids come from a random source") {
  // 16 draws all equal would mean a constant id (probability 2^-240 if random).
  const auto first = health::random_dns_id();
  bool differs = false;
  for (int i = 0; i < 16 && !differs; ++i) differs = health::random_dns_id() != first;
  CHECK(differs);
}

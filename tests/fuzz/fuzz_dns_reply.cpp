// libFuzzer target for the DNS reply judge (health/dns_wire.hpp): arbitrary bytes must give a
// verdict, never a crash, leak or read out of bounds. The probe asks "www.example. IN A" with
// id 0x1234 and an expected answer, so fuzzed replies that match id and question go through
// the rcode, answer and rdata comparison paths too. A third probe asks for the zone's SOA with
// NSID (RFC 5001), so the OPT RDATA option parser (find_edns_option) and the SOA serial are
// reached; the option parser also gets the raw bytes as OPT RDATA.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "health/dns_wire.hpp"

namespace health = herald::health;

namespace {

const health::DnsProbe& probe(unsigned which) {
  static const health::DnsProbe with_value = [] {
    health::DnsCheckSpec s;
    s.server = "192.0.2.53";
    s.qname = "www.example.";
    s.qtype = "A";
    s.accepted_rcodes = {"NOERROR", "NXDOMAIN"};
    s.expect_answers = {"192.0.2.53"};
    auto p = health::make_dns_probe(s, 0x1234);
    if (!p) std::abort();
    return *p;
  }();
  static const health::DnsProbe any_answer = [] {
    health::DnsCheckSpec s;
    s.server = "192.0.2.53";
    s.qname = "www.example.";
    s.qtype = "A";
    s.require_answer = true;
    auto p = health::make_dns_probe(s, 0x1234);
    if (!p) std::abort();
    return *p;
  }();
  static const health::DnsProbe soa_nsid = [] {
    health::DnsCheckSpec s;
    s.server = "192.0.2.53";
    s.qname = "www.example.";
    s.qtype = "SOA";
    s.edns_udp_size = 1232;
    s.nsid = true;
    auto p = health::make_dns_probe(s, 0x1234);
    if (!p) std::abort();
    return *p;
  }();
  switch (which) {
    case 0: return with_value;
    case 1: return any_answer;
    default: return soa_nsid;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> reply(data, size);
  // The last byte picks the probe so every comparison path gets fuzzed.
  const unsigned which = size == 0 ? 0 : data[size - 1] % 3;
  const health::DnsVerdict v = health::judge_dns_reply(reply, probe(which));
  if (v.kind != health::DnsVerdictKind::Pass && v.reason.empty()) std::abort();  // every failure explains itself
  if (v.nsid && health::nsid_text(*v.nsid).empty()) std::abort();
  // The same bytes as OPT RDATA: an option found lies within them.
  if (auto opt = health::find_edns_option(reply, health::kEdnsOptionNsid); opt && opt->size() + 4 > size) std::abort();
  return 0;
}

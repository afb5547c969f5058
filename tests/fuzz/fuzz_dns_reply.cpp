// libFuzzer target for the DNS reply judge (health/dns_wire.hpp): arbitrary bytes must give a
// verdict, never a crash, leak or read out of bounds. The probe asks "www.example. IN A" with
// id 0x1234 and an expected answer, so fuzzed replies that match id and question go through
// the rcode, answer and rdata comparison paths too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "health/dns_wire.hpp"

namespace health = herald::health;

namespace {

const health::DnsProbe& probe(bool expect_value) {
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
  return expect_value ? with_value : any_answer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> reply(data, size);
  // The low bit of the last byte picks the probe so both comparison paths get fuzzed.
  const bool expect_value = size == 0 || (data[size - 1] & 1) == 0;
  const health::DnsVerdict v = health::judge_dns_reply(reply, probe(expect_value));
  if (v.kind != health::DnsVerdictKind::Pass && v.reason.empty()) std::abort();  // every failure explains itself
  return 0;
}

// DNS wire format for the native DNS check: building the query and judging a reply.
// Pure functions over bytes (ldns does the encoding); no sockets, so the reply judge is unit
// tested with byte vectors and fuzzed.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/expected.hpp"
#include "health/check_spec.hpp"

namespace herald::health {

/// The question of a query (RFC 1035 4.1.2) in numeric form.
struct DnsQuestion {
  std::string qname;  ///< presentation form, absolute ("www.example.")
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
};

/// Everything needed to send one query and judge its replies; built once per check run.
struct DnsProbe {
  std::uint16_t id = 0;
  DnsQuestion question;
  std::vector<std::uint8_t> wire;          ///< the query message (UDP payload; TCP adds a length)
  std::vector<std::uint16_t> accepted_rcodes;
  std::vector<std::string> expect_answers;  ///< RDATA in presentation form, checked type-aware
  /// expect_answers parsed once (a reply is judged many times a second): the presentation text
  /// ldns prints for it, and the wire form of each of its RDATA fields.
  struct ExpectedRdata {
    std::string text;
    std::vector<std::vector<std::uint8_t>> fields;
  };
  std::vector<ExpectedRdata> expected;
  bool require_answer = false;
  bool nsid = false;  ///< the query asks for the NSID (RFC 5001)
};

/// Builds the query for `spec` with message id `id`, or says which field is invalid
/// ("unknown type FOO", "bad name ...", "unknown rcode ...", "bad expected answer ...").
herald::Expected<DnsProbe, std::string> make_dns_probe(const DnsCheckSpec& spec, std::uint16_t id);

/// A message id from the kernel CSPRNG (getrandom), so off-path spoofing needs 16 bits of luck
/// on top of the random source port (RFC 5452 9.2).
std::uint16_t random_dns_id();

/// Verdict on one received datagram / TCP message.
enum class DnsVerdictKind {
  Ignore,     ///< not a reply to our query (garbage, wrong id, wrong question): keep waiting
  Truncated,  ///< our reply with TC set: retry over TCP (RFC 7766 5)
  Pass,
  Fail,
};

/// What a reply means for the check, with the human reason.
struct DnsVerdict {
  DnsVerdictKind kind = DnsVerdictKind::Ignore;
  std::string reason;  ///< "rcode SERVFAIL", "answer 198.51.100.7 != expected 192.0.2.53", "wrong id"
  /// Pass and Fail of a probe that asked for it: the NSID option's data the server returned
  /// (RFC 5001 2.3; empty when it sent the option without data), nullopt when it sent none.
  std::optional<std::vector<std::uint8_t>> nsid = std::nullopt;
  /// Pass of a SOA query: the serial of the first SOA record of the answer (RFC 1035 3.3.13).
  std::optional<std::uint32_t> soa_serial = std::nullopt;
};

/// Judges `reply` against the query described by `probe`. Never throws, never reads past `reply`.
DnsVerdict judge_dns_reply(std::span<const std::uint8_t> reply, const DnsProbe& probe);

/// EDNS option code of NSID (RFC 5001 2.3).
inline constexpr std::uint16_t kEdnsOptionNsid = 3;

/// One EDNS option as OPT RDATA (RFC 6891 6.1.2): OPTION-CODE, OPTION-LENGTH, OPTION-DATA.
/// An NSID request is the option with no data (RFC 5001 2.1): 00 03 00 00.
std::vector<std::uint8_t> encode_edns_option(std::uint16_t code, std::span<const std::uint8_t> data = {});

/// The data of the first option `code` in OPT RDATA `rdata`; nullopt when there is none, or when
/// the options before it are malformed (a header or data running past the end). Never reads
/// past `rdata`.
std::optional<std::vector<std::uint8_t>> find_edns_option(std::span<const std::uint8_t> rdata,
                                                          std::uint16_t code);

/// An NSID for humans: the bytes as text when all are printable ASCII ("unbound-a"), else
/// hexadecimal ("0x00ff10"). RFC 5001 2.3 leaves the content to the operator.
std::string nsid_text(std::span<const std::uint8_t> nsid);

/// "rtt 812ms > 300ms" when `rtt` exceeds `bound`, nullopt otherwise.
std::optional<std::string> rtt_violation(Duration rtt, std::optional<Duration> bound);

}  // namespace herald::health

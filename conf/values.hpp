// Parsers and formatters for the friendly value syntaxes of the configuration file. Each parser
// takes the text of one TOML string and returns the value or a message that completes
// "KEY: <message>" (it says what was expected). Each formatter writes the form its parser reads
// back, so dump -> load is exact.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "base/expected.hpp"
#include "bgp/types.hpp"
#include "conf/config.hpp"

namespace herald::conf {

template <typename T>
using ValueResult = Expected<T, std::string>;

// "1s", "250ms", "1m30s", "2h", "0s": integer amounts with units h, m, s, ms, largest first,
// each at most once. Capped at 30 days.
ValueResult<Duration> parse_duration(std::string_view text);
std::string format_duration(Duration d);  // "1m30s", "250ms", "0s"

// "65000", "4200000000" or asdot "1.10" (RFC 5396). 0 and 23456 (AS_TRANS) are refused.
ValueResult<std::uint32_t> parse_asn(std::string_view text);
// Range/meaning check shared by the integer form of an ASN.
ValueResult<std::uint32_t> check_asn(std::int64_t value);

// "65000:100" or a well-known name ("graceful-shutdown", "no-export", ...).
ValueResult<bgp::Community> parse_community(std::string_view text);
std::string format_community(bgp::Community c);  // well-known name when there is one

// "65000:1:2" (RFC 8092).
ValueResult<bgp::LargeCommunity> parse_large_community(std::string_view text);
std::string format_large_community(const bgp::LargeCommunity& c);

// RFC 4360 extended community, as BIRD and GoBGP users write one: "rt:65000:100" (two-octet AS,
// 32-bit value), "rt:192.0.2.1:7" (IPv4 address, 16-bit value), "rt:4200000000:7" (four-octet
// AS, RFC 5668, 16-bit value; "65000L" forces that form for a small AS), "soo:..." for route
// origin; or "0x" and 16 hex digits for any other type.
ValueResult<bgp::ExtendedCommunity> parse_extended_community(std::string_view text);
std::string format_extended_community(const bgp::ExtendedCommunity& c);

// "192.0.2.1/32", "2001:db8::/32"; a bare address is a host prefix. Host bits set is refused
// with a hint naming the network.
ValueResult<bgp::Prefix> parse_prefix(std::string_view text);

// A plain IPv4 or IPv6 address.
ValueResult<bgp::IpAddress> parse_address(std::string_view text);

// "192.0.2.1:179", "[2001:db8::1]:179"; without a port, `default_port`.
ValueResult<Endpoint> parse_endpoint(std::string_view text, std::uint16_t default_port);
std::string format_endpoint(const Endpoint& e);  // "192.0.2.1:179", "[::]:179"

// DNS mnemonics (RFC 1035 and successors). Numeric forms "TYPE65" / "CLASS3" are accepted.
ValueResult<std::uint16_t> parse_qtype(std::string_view text);
std::string format_qtype(std::uint16_t t);
ValueResult<std::uint16_t> parse_qclass(std::string_view text);
std::string format_qclass(std::uint16_t c);
ValueResult<std::uint16_t> parse_rcode(std::string_view text);
std::string format_rcode(std::uint16_t r);

// A DNS name in presentation format ("www.example.", "example.com"): labels of 1..63 octets,
// 255 octets in total on the wire.
ValueResult<std::string> check_dns_name(std::string_view text);

}  // namespace herald::conf

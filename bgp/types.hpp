// Value types shared by the codec, the session FSM, the speaker and the configuration:
// address families, IP addresses and prefixes, communities.
#pragma once
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::bgp {

using Bytes = std::vector<std::uint8_t>;

// RFC 4760 Address Family Identifier and Subsequent AFI; herald speaks unicast only.
enum class Afi : std::uint16_t { Ipv4 = 1, Ipv6 = 2 };
enum class Safi : std::uint8_t { Unicast = 1 };

struct Family {
  Afi afi = Afi::Ipv4;
  Safi safi = Safi::Unicast;
  auto operator<=>(const Family&) const = default;
};
inline constexpr Family kIpv4Unicast{Afi::Ipv4, Safi::Unicast};
inline constexpr Family kIpv6Unicast{Afi::Ipv6, Safi::Unicast};
std::string to_string(Family f);  // "ipv4-unicast", "ipv6-unicast", "afi-N/safi-M"

// An IPv4 or IPv6 address in network byte order (IPv4 uses the first 4 bytes; the rest are 0).
struct IpAddress {
  Afi afi = Afi::Ipv4;
  std::array<std::uint8_t, 16> bytes{};

  static std::optional<IpAddress> parse(std::string_view text);  // "192.0.2.1", "2001:db8::1"
  static IpAddress v4(std::uint32_t host_order);
  std::size_t size() const { return afi == Afi::Ipv4 ? 4 : 16; }
  bool is_v4() const { return afi == Afi::Ipv4; }
  bool is_link_local() const;  // fe80::/10
  std::uint32_t v4_host_order() const;
  std::string to_string() const;
  auto operator<=>(const IpAddress&) const = default;
};

// An IP prefix. Invariant (kept by parse and by the decoder): bits past `length` are zero.
struct Prefix {
  IpAddress addr;
  std::uint8_t length = 0;

  // "192.0.2.1/32", "2001:db8:53::1/128"; a bare address means a host prefix. Host bits set
  // ("192.0.2.1/24") are refused: nullopt.
  static std::optional<Prefix> parse(std::string_view text);
  Afi afi() const { return addr.afi; }
  Family family() const { return Family{addr.afi, Safi::Unicast}; }
  std::size_t wire_bytes() const { return (length + 7u) / 8u; }  // NLRI address octets
  std::string to_string() const;
  auto operator<=>(const Prefix&) const = default;
};

// RFC 1997 community as one 32-bit value (high 16 bits: ASN, low 16 bits: value).
using Community = std::uint32_t;
inline constexpr Community kGracefulShutdown = 0xFFFF0000;  // RFC 8326 65535:0
inline constexpr Community kNoExport = 0xFFFFFF01;
inline constexpr Community kNoAdvertise = 0xFFFFFF02;
inline constexpr Community kNoExportSubconfed = 0xFFFFFF03;
inline constexpr Community kBlackhole = 0xFFFF029A;  // RFC 7999

// RFC 8092 large community.
struct LargeCommunity {
  std::uint32_t global_admin = 0;
  std::uint32_t local1 = 0;
  std::uint32_t local2 = 0;
  auto operator<=>(const LargeCommunity&) const = default;
};

// RFC 4360 extended community, 8 octets: type, sub-type, then 6 octets of value.
using ExtendedCommunity = std::array<std::uint8_t, 8>;

// The route-target and route-origin ("site of origin") communities herald can be configured
// with: the transitive two-octet-AS (RFC 4360 3.1), IPv4-address (3.2) and four-octet-AS
// (RFC 5668) forms. Sub-type 0x02 is route target, 0x03 route origin (RFC 4360 5).
enum class ExtCommunityKind : std::uint8_t { RouteTarget = 0x02, RouteOrigin = 0x03 };
ExtendedCommunity ext_community_as2(ExtCommunityKind kind, std::uint16_t asn, std::uint32_t value);
ExtendedCommunity ext_community_ipv4(ExtCommunityKind kind, std::uint32_t ipv4_host_order,
                                     std::uint16_t value);
ExtendedCommunity ext_community_as4(ExtCommunityKind kind, std::uint32_t asn, std::uint16_t value);
// "rt:65000:100", "soo:192.0.2.1:7", "rt:4200000000:7", "rt:65000L:7" (four-octet form of a
// small AS, Junos-style), or "0x" and 16 hex digits for any other type.
std::string to_string(const ExtendedCommunity& c);

std::string community_to_string(Community c);          // "65000:100" or well-known name
std::string to_string(const LargeCommunity& c);        // "65000:1:2"

}  // namespace herald::bgp

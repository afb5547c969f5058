// Text forms of the shared value types (addresses, prefixes, families, communities).
#include "bgp/types.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>

namespace herald::bgp {

std::string to_string(Family f) {
  if (f == kIpv4Unicast) return "ipv4-unicast";
  if (f == kIpv6Unicast) return "ipv6-unicast";
  return fmt::format("afi-{}/safi-{}", static_cast<unsigned>(f.afi), static_cast<unsigned>(f.safi));
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; an embedded NUL would silently shorten it.
  if (text.empty() || text.size() > 64 || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string s(text);
  IpAddress a;
  if (s.find(':') != std::string::npos) {
    a.afi = Afi::Ipv6;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  } else {
    a.afi = Afi::Ipv4;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  }
  return a;
}

IpAddress IpAddress::v4(std::uint32_t host_order) {
  IpAddress a;
  a.bytes[0] = static_cast<std::uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<std::uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<std::uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<std::uint8_t>(host_order);
  return a;
}

bool IpAddress::is_link_local() const {
  return afi == Afi::Ipv6 && bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
}

std::uint32_t IpAddress::v4_host_order() const {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
         (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = afi == Afi::Ipv4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

std::optional<Prefix> Prefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const unsigned max_len = addr->is_v4() ? 32 : 128;
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc{} || end != digits.data() + digits.size() || len > max_len) {
      return std::nullopt;
    }
  }
  // Refuse host bits beyond the length: "192.0.2.1/24" is almost always a typo.
  for (unsigned bit = len; bit < max_len; ++bit) {
    if (addr->bytes[bit / 8] & (0x80u >> (bit % 8))) return std::nullopt;
  }
  return Prefix{*addr, static_cast<std::uint8_t>(len)};
}

std::string Prefix::to_string() const { return fmt::format("{}/{}", addr.to_string(), length); }

std::string community_to_string(Community c) {
  switch (c) {
    case kGracefulShutdown: return "graceful-shutdown";
    case kNoExport: return "no-export";
    case kNoAdvertise: return "no-advertise";
    case kNoExportSubconfed: return "no-export-subconfed";
    case kBlackhole: return "blackhole";
    default: return fmt::format("{}:{}", c >> 16, c & 0xFFFF);
  }
}

std::string to_string(const LargeCommunity& c) {
  return fmt::format("{}:{}:{}", c.global_admin, c.local1, c.local2);
}

namespace {

ExtendedCommunity ext_community(std::uint8_t type, ExtCommunityKind kind, std::uint32_t global,
                                std::size_t global_octets, std::uint32_t local) {
  ExtendedCommunity c{};
  c[0] = type;
  c[1] = static_cast<std::uint8_t>(kind);
  // Global administrator then local administrator, both big-endian, 6 octets in all.
  std::size_t at = 2;
  for (std::size_t i = global_octets; i-- > 0;) c[at++] = static_cast<std::uint8_t>(global >> (8 * i));
  for (std::size_t i = 6 - global_octets; i-- > 0;) c[at++] = static_cast<std::uint8_t>(local >> (8 * i));
  return c;
}

std::uint32_t octets(const ExtendedCommunity& c, std::size_t from, std::size_t count) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < count; ++i) v = (v << 8) | c[from + i];
  return v;
}

}  // namespace

// RFC 4360 3.1 / 3.2 and RFC 5668 2: type octet 0x00, 0x01 and 0x02 are the transitive
// two-octet-AS, IPv4-address and four-octet-AS specific types.
ExtendedCommunity ext_community_as2(ExtCommunityKind kind, std::uint16_t asn, std::uint32_t value) {
  return ext_community(0x00, kind, asn, 2, value);
}
ExtendedCommunity ext_community_ipv4(ExtCommunityKind kind, std::uint32_t ipv4_host_order, std::uint16_t value) {
  return ext_community(0x01, kind, ipv4_host_order, 4, value);
}
ExtendedCommunity ext_community_as4(ExtCommunityKind kind, std::uint32_t asn, std::uint16_t value) {
  return ext_community(0x02, kind, asn, 4, value);
}

std::string to_string(const ExtendedCommunity& c) {
  const char* kind = c[1] == 0x02 ? "rt" : c[1] == 0x03 ? "soo" : nullptr;
  if (kind) {
    switch (c[0]) {
      case 0x00: return fmt::format("{}:{}:{}", kind, octets(c, 2, 2), octets(c, 4, 4));
      case 0x01: return fmt::format("{}:{}:{}", kind, IpAddress::v4(octets(c, 2, 4)).to_string(), octets(c, 6, 2));
      case 0x02: {
        const std::uint32_t asn = octets(c, 2, 4);
        return fmt::format("{}:{}{}:{}", kind, asn, asn <= 0xFFFF ? "L" : "", octets(c, 6, 2));
      }
      default: break;
    }
  }
  std::string hex = "0x";
  for (auto b : c) hex += fmt::format("{:02x}", b);
  return hex;
}

}  // namespace herald::bgp

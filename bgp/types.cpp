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

}  // namespace herald::bgp

// An address as it sits on a network interface: IP address plus prefix length.
//
// Not bgp::Prefix on purpose: an interface address may have host bits set
// ("192.0.2.1/24" means "192.0.2.1 in a /24"), which a routing prefix forbids.
#pragma once
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::netlink {

enum class IpFamily : std::uint8_t { V4, V6 };

// Contract: bytes past size() are zero; prefix_len <= 32 (V4) or <= 128 (V6).
struct InterfaceAddress {
  IpFamily family = IpFamily::V4;
  std::array<std::uint8_t, 16> bytes{};
  std::uint8_t prefix_len = 32;

  // "192.0.2.1", "192.0.2.1/32", "2001:db8:53::1/128". A bare address is a host address
  // (/32 or /128). Anything else (bad address, bad or out-of-range length): nullopt.
  static std::optional<InterfaceAddress> parse(std::string_view text);

  bool is_v4() const { return family == IpFamily::V4; }
  std::size_t size() const { return is_v4() ? 4 : 16; }
  std::uint8_t max_prefix_len() const { return is_v4() ? 32 : 128; }
  std::string address_string() const;  // "192.0.2.1"
  std::string to_string() const;       // "192.0.2.1/32", always with the length
  auto operator<=>(const InterfaceAddress&) const = default;
};

// True when the kernel treats `a` and `b` as the same address on one interface: IPv4 keys an
// address by (local, prefix length), IPv6 by the address alone (the kernel refuses a second
// 2001:db8::1 with another length as "exists").
bool same_kernel_address(const InterfaceAddress& a, const InterfaceAddress& b);

}  // namespace herald::netlink

// Conversions between herald's IpAddress and Asio's addresses. An IPv4 peer that reaches an
// AF_INET6 (dual-stack) socket shows up as ::ffff:a.b.c.d; herald always sees it as IPv4, so
// peer lookup and log lines use one spelling.
#pragma once

#include <cstdint>
#include <string>

#include "base/asio.hpp"
#include "bgp/types.hpp"

namespace herald::bgp::transport {

// An address and TCP port.
struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;
  std::string to_string() const;  // "192.0.2.1:179", "[2001:db8::1]:179"
  bool operator==(const Endpoint&) const = default;
};

boost::asio::ip::address to_asio(const IpAddress& a);
// v4-mapped IPv6 addresses come back as IPv4.
IpAddress from_asio(const boost::asio::ip::address& a);
Endpoint from_asio(const boost::asio::ip::tcp::endpoint& e);
boost::asio::ip::tcp::endpoint to_asio(const Endpoint& e);

}  // namespace herald::bgp::transport

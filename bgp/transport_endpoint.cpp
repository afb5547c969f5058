#include "bgp/transport_endpoint.hpp"

#include <cstring>

#include <fmt/format.h>

namespace herald::bgp::transport {

namespace ip = boost::asio::ip;

std::string Endpoint::to_string() const {
  if (address.is_v4()) return fmt::format("{}:{}", address.to_string(), port);
  return fmt::format("[{}]:{}", address.to_string(), port);
}

ip::address to_asio(const IpAddress& a) {
  if (a.is_v4()) {
    ip::address_v4::bytes_type b{};
    std::memcpy(b.data(), a.bytes.data(), b.size());
    return ip::address_v4(b);
  }
  ip::address_v6::bytes_type b{};
  std::memcpy(b.data(), a.bytes.data(), b.size());
  return ip::address_v6(b);
}

IpAddress from_asio(const ip::address& a) {
  IpAddress out;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return from_asio(ip::address(ip::make_address_v4(ip::v4_mapped, a.to_v6())));
  }
  if (a.is_v4()) {
    out.afi = Afi::Ipv4;
    auto b = a.to_v4().to_bytes();
    std::memcpy(out.bytes.data(), b.data(), b.size());
  } else {
    out.afi = Afi::Ipv6;
    auto b = a.to_v6().to_bytes();
    std::memcpy(out.bytes.data(), b.data(), b.size());
  }
  return out;
}

Endpoint from_asio(const ip::tcp::endpoint& e) { return Endpoint{from_asio(e.address()), e.port()}; }

ip::tcp::endpoint to_asio(const Endpoint& e) { return ip::tcp::endpoint(to_asio(e.address), e.port); }

}  // namespace herald::bgp::transport

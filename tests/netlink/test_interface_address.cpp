// InterfaceAddress parsing/printing and the kernel's notion of "the same address".
#include <doctest/doctest.h>

#include <cerrno>

#include "netlink/error.hpp"
#include "netlink/from_prefix.hpp"
#include "netlink/interface_address.hpp"

using herald::netlink::InterfaceAddress;
using herald::netlink::IpFamily;

TEST_CASE("InterfaceAddress parses host addresses with and without a length") {
  auto a = InterfaceAddress::parse("192.0.2.1");
  REQUIRE(a);
  CHECK(a->family == IpFamily::V4);
  CHECK(a->prefix_len == 32);
  CHECK(a->bytes[0] == 192);
  CHECK(a->bytes[3] == 1);
  CHECK(a->bytes[4] == 0);  // the unused tail stays zero
  CHECK(a->to_string() == "192.0.2.1/32");

  auto b = InterfaceAddress::parse("2001:db8:53::1/128");
  REQUIRE(b);
  CHECK(b->family == IpFamily::V6);
  CHECK(b->prefix_len == 128);
  CHECK(b->bytes[0] == 0x20);
  CHECK(b->bytes[15] == 1);
  CHECK(b->to_string() == "2001:db8:53::1/128");
  CHECK(InterfaceAddress::parse("2001:db8:53::1")->prefix_len == 128);
}

TEST_CASE("InterfaceAddress keeps host bits with a shorter length") {
  auto a = InterfaceAddress::parse("192.0.2.1/24");
  REQUIRE(a);
  CHECK(a->prefix_len == 24);
  CHECK(a->to_string() == "192.0.2.1/24");
}

TEST_CASE("InterfaceAddress refuses malformed text") {
  for (const char* bad : {"", "/32", "192.0.2.1/", "192.0.2.1/33", "2001:db8::1/129", "192.0.2.256",
                          "192.0.2.1/3x", "192.0.2.1/-1", "lo", "2001:db8:::1", "192.0.2.1/32/1"}) {
    CAPTURE(bad);
    CHECK_FALSE(InterfaceAddress::parse(bad));
  }
}

TEST_CASE("same_kernel_address: IPv4 keys on address and length, IPv6 on address only") {
  auto v4_32 = *InterfaceAddress::parse("192.0.2.1/32");
  auto v4_24 = *InterfaceAddress::parse("192.0.2.1/24");
  auto v6_128 = *InterfaceAddress::parse("2001:db8:53::1/128");
  auto v6_64 = *InterfaceAddress::parse("2001:db8:53::1/64");
  CHECK(same_kernel_address(v4_32, v4_32));
  CHECK_FALSE(same_kernel_address(v4_32, v4_24));
  CHECK(same_kernel_address(v6_128, v6_64));
  CHECK_FALSE(same_kernel_address(v4_32, v6_128));
}

TEST_CASE("error_from_errno names the capability, the operation and the interface") {
  using herald::netlink::ErrorKind;
  auto e = herald::netlink::error_from_errno(EPERM, "adding 192.0.2.1/32 to lo", "lo");
  CHECK(e.kind == ErrorKind::PermissionDenied);
  CHECK(e.message ==
        "adding 192.0.2.1/32 to lo: Operation not permitted (herald needs CAP_NET_ADMIN)");
  auto n = herald::netlink::error_from_errno(ENODEV, "adding 192.0.2.1/32 to dns0", "dns0");
  CHECK(n.kind == ErrorKind::NoSuchInterface);
  CHECK(n.message == "adding 192.0.2.1/32 to dns0: interface dns0 does not exist");
  CHECK(herald::netlink::error_from_errno(EEXIST, "x", "lo").kind == ErrorKind::AlreadyExists);
  CHECK(herald::netlink::error_from_errno(EADDRNOTAVAIL, "x", "lo").kind ==
        ErrorKind::AddressNotFound);
  CHECK(herald::netlink::error_from_errno(EOPNOTSUPP, "x", "lo").kind == ErrorKind::Unsupported);
  CHECK(herald::netlink::error_from_errno(ENOBUFS, "x", "lo").kind == ErrorKind::Kernel);
}

TEST_CASE("to_interface_address keeps the bytes and length of a bgp::Prefix") {
  herald::bgp::Prefix v4;
  v4.addr.afi = herald::bgp::Afi::Ipv4;
  v4.addr.bytes = {192, 0, 2, 1};  // 192.0.2.1, rest zero
  v4.length = 32;
  CHECK(herald::netlink::to_interface_address(v4) == *InterfaceAddress::parse("192.0.2.1/32"));

  herald::bgp::Prefix v6;
  v6.addr.afi = herald::bgp::Afi::Ipv6;
  v6.addr.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0x53, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  v6.length = 128;
  CHECK(herald::netlink::to_interface_address(v6) ==
        *InterfaceAddress::parse("2001:db8:53::1/128"));
}

#include "netlink/interface_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>

namespace herald::netlink {

std::optional<InterfaceAddress> InterfaceAddress::parse(std::string_view text) {
  std::string_view addr_text = text;
  std::optional<unsigned> length;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    addr_text = text.substr(0, slash);
    std::string_view len_text = text.substr(slash + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), value);
    if (ec != std::errc{} || end != len_text.data() + len_text.size() || len_text.empty()) {
      return std::nullopt;
    }
    length = value;
  }
  // inet_pton needs a NUL-terminated string; INET6_ADDRSTRLEN bounds any valid input.
  if (addr_text.empty() || addr_text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string z(addr_text);
  InterfaceAddress out;
  if (inet_pton(AF_INET, z.c_str(), out.bytes.data()) == 1) {
    out.family = IpFamily::V4;
  } else if (inet_pton(AF_INET6, z.c_str(), out.bytes.data()) == 1) {
    out.family = IpFamily::V6;
  } else {
    return std::nullopt;
  }
  unsigned len = length.value_or(out.max_prefix_len());
  if (len > out.max_prefix_len()) return std::nullopt;
  out.prefix_len = static_cast<std::uint8_t>(len);
  return out;
}

std::string InterfaceAddress::address_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

std::string InterfaceAddress::to_string() const {
  return address_string() + "/" + std::to_string(prefix_len);
}

bool same_kernel_address(const InterfaceAddress& a, const InterfaceAddress& b) {
  if (a.family != b.family || a.bytes != b.bytes) return false;
  return a.is_v4() ? a.prefix_len == b.prefix_len : true;
}

}  // namespace herald::netlink

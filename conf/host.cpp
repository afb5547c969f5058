// system_host(): account lookups against the running system (passwd and group databases).
#include <grp.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "conf/load.hpp"

namespace herald::conf {
namespace {

// getpwnam_r / getgrnam_r with a buffer that grows on ERANGE. "Not found" is a value (false);
// a failing lookup is an error naming the account.
template <typename Entry, typename Fn>
Expected<bool, std::string> exists(const std::string& name, const char* what, Fn lookup) {
  std::vector<char> buf(1024);
  for (;;) {
    Entry entry{};
    Entry* found = nullptr;
    const int rc = lookup(name.c_str(), &entry, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    // glibc reports "no such entry" as 0 with found == nullptr; some NSS modules use ENOENT.
    if (rc == 0 || rc == ENOENT || rc == ESRCH) return found != nullptr;
    return unexpected(fmt::format("cannot look up {} \"{}\": {}", what, name,
                                  std::error_code(rc, std::generic_category()).message()));
  }
}

Expected<std::vector<bgp::IpAddress>, std::string> interface_addresses() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0)
    return unexpected(fmt::format("cannot list this host's addresses: {}",
                                  std::error_code(errno, std::generic_category()).message()));
  std::vector<bgp::IpAddress> out;
  for (const ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    bgp::IpAddress a;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      a.afi = bgp::Afi::Ipv4;
      std::memcpy(a.bytes.data(), &sin->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      a.afi = bgp::Afi::Ipv6;
      std::memcpy(a.bytes.data(), &sin6->sin6_addr, 16);
    } else {
      continue;
    }
    out.push_back(a);
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace

const HostLookup& system_host() {
  static const HostLookup host{
      [](const std::string& name) { return exists<struct passwd>(name, "user", ::getpwnam_r); },
      [](const std::string& name) { return exists<struct group>(name, "group", ::getgrnam_r); },
      interface_addresses,
  };
  return host;
}

}  // namespace herald::conf

#include "bgp/transport_socket_options.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace herald::bgp::transport {
namespace {

constexpr int kTtlMax = 255;   // RFC 5082 3: GTSM peers send and expect exactly 255
constexpr int kTosCs6 = 0xC0;  // DSCP 48 (CS6) shifted into the TOS / traffic class octet

MaybeError set_int(int fd, int level, int name, int value, std::string_view what,
                   const IpAddress& peer, const FaultInjector& fault) {
  int err = 0;
  if (fault) err = fault(fmt::format("setsockopt {}", what));
  if (err == 0 && ::setsockopt(fd, level, name, &value, sizeof value) != 0) err = errno;
  if (err == 0) return std::nullopt;
  return TransportError{fmt::format("{} on {}: {}", what, peer.to_string(), std::strerror(err))};
}

}  // namespace

MaybeError apply_socket_options(int fd, SocketShape shape, const SocketOptions& opts,
                                const IpAddress& peer, const FaultInjector& fault) {
  if (opts.nodelay) {
    if (auto e = set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY", peer, fault)) return e;
  }
  if (opts.dscp_cs6) {
    // A v6 socket carrying IPv4 sends IPv4 packets, whose TOS comes from IP_TOS.
    if (shape.v4_traffic) {
      if (auto e = set_int(fd, IPPROTO_IP, IP_TOS, kTosCs6, "IP_TOS", peer, fault)) return e;
    } else {
      if (auto e = set_int(fd, IPPROTO_IPV6, IPV6_TCLASS, kTosCs6, "IPV6_TCLASS", peer, fault)) return e;
    }
  }
  if (opts.gtsm) {
    if (shape.v4_traffic) {
      if (auto e = set_int(fd, IPPROTO_IP, IP_TTL, kTtlMax, "IP_TTL", peer, fault)) return e;
      if (auto e = set_int(fd, IPPROTO_IP, IP_MINTTL, kTtlMax, "IP_MINTTL", peer, fault)) return e;
    } else {
      if (auto e = set_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, kTtlMax, "IPV6_UNICAST_HOPS", peer, fault))
        return e;
      if (auto e = set_int(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, kTtlMax, "IPV6_MINHOPCOUNT", peer, fault))
        return e;
    }
  }
  return std::nullopt;
}

MaybeError set_ttl_255(int fd, SocketShape shape, const IpAddress& what, const FaultInjector& fault) {
  if (shape.v6_socket) {
    if (auto e = set_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, kTtlMax, "IPV6_UNICAST_HOPS", what, fault))
      return e;
    if (!shape.v4_traffic) return std::nullopt;
  }
  // IPv4 packets of a dual-stack socket take their TTL from IP_TTL.
  return set_int(fd, IPPROTO_IP, IP_TTL, kTtlMax, "IP_TTL", what, fault);
}

MaybeError set_md5_key(int fd, bool v6_socket, const IpAddress& peer, std::string_view key,
                       const FaultInjector& fault) {
  if (key.size() > TCP_MD5SIG_MAXKEYLEN) {
    return TransportError{fmt::format("TCP_MD5SIG on {}: key longer than {} octets", peer.to_string(),
                                      TCP_MD5SIG_MAXKEYLEN)};
  }
  if (!v6_socket && !peer.is_v4()) {
    return TransportError{fmt::format("TCP_MD5SIG on {}: IPv6 peer on an IPv4 socket", peer.to_string())};
  }
  tcp_md5sig sig{};
  if (!v6_socket) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, peer.bytes.data(), 4);
    std::memcpy(&sig.tcpm_addr, &sin, sizeof sin);
  } else {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    if (peer.is_v4()) {
      // ::ffff:a.b.c.d - the kernel files the key under the IPv4 address (tcp_v6_parse_md5_keys).
      sin6.sin6_addr.s6_addr[10] = 0xff;
      sin6.sin6_addr.s6_addr[11] = 0xff;
      std::memcpy(&sin6.sin6_addr.s6_addr[12], peer.bytes.data(), 4);
    } else {
      std::memcpy(&sin6.sin6_addr, peer.bytes.data(), 16);
    }
    std::memcpy(&sig.tcpm_addr, &sin6, sizeof sin6);
  }
  sig.tcpm_keylen = static_cast<std::uint16_t>(key.size());
  std::memcpy(sig.tcpm_key, key.data(), key.size());

  int err = 0;
  if (fault) err = fault("setsockopt TCP_MD5SIG");
  if (err == 0 && ::setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig) != 0) err = errno;
  if (err == 0) return std::nullopt;
  // Removing a key that was never installed is not an error worth reporting.
  if (key.empty() && err == ENOENT) return std::nullopt;
  return TransportError{fmt::format("TCP_MD5SIG on {}: {}", peer.to_string(), std::strerror(err))};
}

}  // namespace herald::bgp::transport

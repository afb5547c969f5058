// Per-socket options of a BGP transport connection: TCP_NODELAY, DSCP CS6, TCP MD5 signatures
// (RFC 2385) and GTSM (RFC 5082). Each function works on a raw file descriptor, does exactly one
// job, and reports a failed setsockopt as a readable value naming the option and the peer, e.g.
// "TCP_MD5SIG on 192.0.2.1: Operation not permitted". Nothing here throws or aborts on errors
// from the kernel.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "bgp/types.hpp"

namespace herald::bgp::transport {

// An error from the outside world (the kernel, the network), as text for the operator.
struct TransportError {
  std::string what;
};
using MaybeError = std::optional<TransportError>;

// Test hook: consulted before every system call of the transport with the call's name
// ("setsockopt TCP_MD5SIG", "bind", "connect", "accept", "read", "write"). Returning a non-zero
// errno makes the transport behave as if the kernel had failed the call with that errno.
// Empty (the default): no injection.
using FaultInjector = std::function<int(std::string_view operation)>;

// The options one BGP session wants on its socket.
struct SocketOptions {
  bool nodelay = true;              // BGP messages are small and latency matters (keepalives)
  bool dscp_cs6 = true;             // RFC 4594: network control traffic -> CS6 (TOS 0xC0)
  bool gtsm = false;                // RFC 5082: send with TTL 255, accept only TTL 255
  std::optional<std::string> md5;   // RFC 2385 key; nullopt: no signature
};

// Which IP layer a socket uses: a v6 socket may carry IPv4 through v4-mapped addresses, in
// which case the IPv4-level options (IP_TOS, IP_TTL, IP_MINTTL) are the ones that act.
struct SocketShape {
  bool v6_socket = false;  // socket was opened AF_INET6
  bool v4_traffic = true;  // the peer is an IPv4 address (plain or v4-mapped)
};

// Applies nodelay, DSCP and GTSM (not MD5: see set_md5_key) to a connected or connecting
// socket. Stops at the first failure. `peer` is used only to name the error.
MaybeError apply_socket_options(int fd, SocketShape shape, const SocketOptions& opts,
                                const IpAddress& peer, const FaultInjector& fault = {});

// Installs (key non-empty) or removes (key empty) the RFC 2385 key for `peer` on `fd`. On a
// listening socket this is done once per peer before any SYN arrives; on an active socket before
// connect(). An IPv4 peer on an AF_INET6 socket is keyed by its v4-mapped address, which the
// kernel treats as the IPv4 address. Keys longer than 80 octets (TCP_MD5SIG_MAXKEYLEN) are
// refused with an error value.
MaybeError set_md5_key(int fd, bool v6_socket, const IpAddress& peer, std::string_view key,
                       const FaultInjector& fault = {});

// Sets the outgoing TTL / hop limit to 255 only (no minimum): used on a listening socket so the
// SYN-ACKs it sends pass a GTSM peer's minimum-TTL check (RFC 5082 3).
MaybeError set_ttl_255(int fd, SocketShape shape, const IpAddress& what, const FaultInjector& fault = {});

}  // namespace herald::bgp::transport

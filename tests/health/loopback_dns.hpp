// What the scripted DNS responders of the health tests share: a UDP socket on 127.0.0.1 whose
// every wait is bounded, the reply a healthy server gives to "www.example. IN A", and a service
// that checks such a responder.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <iterator>
#include <vector>

#include <doctest/doctest.h>

#include "health/check_spec.hpp"

namespace health = herald::health;

namespace health_test {

class LoopbackUdp {
 public:
  /// Bound to 127.0.0.1:`port` (0: an ephemeral one); each receive waits at most `timeout_s`.
  explicit LoopbackUdp(int timeout_s, std::uint16_t port = 0) : fd_(socket(AF_INET, SOCK_DGRAM, 0)) {
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    timeval tv{timeout_s, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~LoopbackUdp() { close(fd_); }
  LoopbackUdp(const LoopbackUdp&) = delete;
  LoopbackUdp& operator=(const LoopbackUdp&) = delete;

  std::uint16_t port() const { return port_; }

  /// One datagram (up to 512 octets) and its sender; empty on timeout or error. A wait that a
  /// signal ends early (EINTR, seen when the whole test binary runs: doctest's handlers have no
  /// SA_RESTART) is retried, a bounded number of times.
  std::vector<unsigned char> receive(sockaddr_in& from) {
    std::vector<unsigned char> m(512);
    for (int tries = 0; tries < 100; ++tries) {
      socklen_t len = sizeof from;
      const ssize_t n = recvfrom(fd_, m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n >= 0) {
        m.resize(static_cast<std::size_t>(n));
        return m;
      }
      if (errno != EINTR) break;
    }
    return {};
  }

  void send_to(const std::vector<unsigned char>& m, const sockaddr_in& to) {
    sendto(fd_, m.data(), m.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

/// A healthy server's reply to the query `q` ("www.example. IN A"): the query with QR and AA set
/// (flags 0x8400, RCODE NOERROR), ANCOUNT 1, and one answer: name = pointer to the question at
/// offset 12, TYPE A, CLASS IN, TTL 60, RDLENGTH 4, 192.0.2.53.
inline std::vector<unsigned char> good_reply(std::vector<unsigned char> q) {
  q[2] = 0x84;
  q[3] = 0x00;
  q[7] = 1;
  const unsigned char answer[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 53};
  q.insert(q.end(), std::begin(answer), std::end(answer));
  return q;
}

/// A DNS check of "www.example. A" against 127.0.0.1:`port`, expecting 192.0.2.53 (good_reply's
/// answer).
inline health::DnsCheckSpec loopback_dns_check(std::uint16_t port) {
  health::DnsCheckSpec d;
  d.server = "127.0.0.1";
  d.port = port;
  d.qname = "www.example.";
  d.qtype = "A";
  d.expect_answers = {"192.0.2.53"};
  return d;
}

/// Service "dns" with one DNS check of "www.example. A" (expecting 192.0.2.53) on
/// 127.0.0.1:`port`; rise and fall 1, no splay (the first round starts at once), no flap
/// damping, `interval` for every round.
inline health::ServiceSpec loopback_dns_service(std::uint16_t port, health::Duration interval,
                                                health::Duration timeout) {
  health::ServiceSpec s;
  s.name = "dns";
  s.policy.interval = interval;
  s.policy.fast_interval = interval;
  s.policy.timeout = timeout;
  s.policy.rise = 1;
  s.policy.fall = 1;
  s.policy.splay = health::Duration::zero();
  s.policy.flap.enabled = false;
  s.checks.push_back(loopback_dns_check(port));
  return s;
}

}  // namespace health_test

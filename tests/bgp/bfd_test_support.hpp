// A scripted BFD neighbor for the BFD runtime and speaker tests: a plain UDP socket on
// 127.0.0.2 that the test drives packet by packet, so it decides when BFD comes Up, goes
// silent or sends something malformed. Every receive is bounded (2 s).
#pragma once
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <span>

#include "bgp/bfd_packet.hpp"

namespace herald::bgp::bfd::testing {

struct ScriptedNeighbor {
  int fd = -1;
  std::uint16_t port = 0;       // its UDP port on 127.0.0.2 (ephemeral)
  std::uint32_t peer_disc = 0;  // herald's discriminator, from its first packet (read_first)

  // Sends with TTL 255 (RFC 5881 5: herald drops anything else) until ttl() says otherwise.
  ScriptedNeighbor() {
    fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000002);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
    ttl(255);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ScriptedNeighbor(const ScriptedNeighbor&) = delete;
  ScriptedNeighbor& operator=(const ScriptedNeighbor&) = delete;
  ~ScriptedNeighbor() { ::close(fd); }

  void ttl(int t) { REQUIRE(::setsockopt(fd, IPPROTO_IP, IP_TTL, &t, sizeof t) == 0); }

  // The next packet herald sent, decoded; nullopt on timeout or a packet that does not decode.
  std::optional<ControlPacket> receive() {
    std::uint8_t buf[64];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    auto p = decode(std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)));
    if (!p) return std::nullopt;
    return *p;
  }

  // Reads herald's first packet (required) and remembers its discriminator for send(State).
  void read_first() {
    auto p = receive();
    REQUIRE(p);
    peer_disc = p->my_discriminator;
  }

  // Sends raw bytes to herald's BFD listener on 127.0.0.1:to_port.
  void send(const Bytes& b, std::uint16_t to_port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000001);
    a.sin_port = htons(to_port);
    REQUIRE(::sendto(fd, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) ==
            static_cast<ssize_t>(b.size()));
  }

  // Sends a control packet in state `s`: discriminator 0x77, herald's as peer_disc, 50 ms rates.
  void send(State s, std::uint16_t to_port) {
    ControlPacket p;
    p.state = s;
    p.my_discriminator = 0x77;
    p.your_discriminator = peer_disc;
    p.desired_min_tx_us = 50'000;
    p.required_min_rx_us = 50'000;
    send(encode(p), to_port);
  }
};

}  // namespace herald::bgp::bfd::testing

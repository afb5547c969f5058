// BFD Control packet codec (RFC 5880 4.1) and the packet-level reception checks of 6.8.6.
#include <doctest/doctest.h>

#include "bgp/bfd_packet.hpp"

namespace herald::bgp::bfd {
namespace {

// A packet of a session in state Up with 300 ms timers and a 50 ms echo offer.
const Bytes kUpPacket = {
    0x20,                    // version 1, diag 0
    0xC0,                    // state 3 (Up), no flags
    0x03,                    // detect multiplier 3
    0x18,                    // length 24
    0x00, 0x00, 0x00, 0x2A,  // my discriminator 42
    0x00, 0x00, 0x01, 0x00,  // your discriminator 256
    0x00, 0x04, 0x93, 0xE0,  // desired min TX 300000 us
    0x00, 0x04, 0x93, 0xE0,  // required min RX 300000 us
    0x00, 0x00, 0xC3, 0x50,  // required min echo RX 50000 us
};

Bytes with(Bytes b, std::size_t at, std::uint8_t v) {
  b.at(at) = v;
  return b;
}

TEST_CASE("bfd packet: decodes every field of a control packet") {
  auto p = decode(kUpPacket);
  REQUIRE(p);
  CHECK(p->diag == Diag::NoDiagnostic);
  CHECK(p->state == State::Up);
  CHECK_FALSE(p->poll);
  CHECK_FALSE(p->final);
  CHECK(p->detect_mult == 3);
  CHECK(p->my_discriminator == 42);
  CHECK(p->your_discriminator == 256);
  CHECK(p->desired_min_tx_us == 300000);
  CHECK(p->required_min_rx_us == 300000);
  CHECK(p->required_min_echo_rx_us == 50000);
  CHECK(encode(*p) == kUpPacket);
}

TEST_CASE("bfd packet: flags and diagnostic encode to their bits") {
  ControlPacket p;
  p.diag = Diag::ControlDetectionTimeExpired;
  p.state = State::Init;
  p.poll = true;
  p.control_plane_independent = true;
  p.detect_mult = 1;
  p.my_discriminator = 0x01020304;
  p.your_discriminator = 0;
  p.desired_min_tx_us = 1000000;
  p.required_min_rx_us = 50000;
  const Bytes expected = {
      0x21,                    // version 1, diag 1 (Control Detection Time Expired)
      0xA8,                    // state 2 (Init) << 6 | P 0x20 | C 0x08
      0x01,                    // detect multiplier 1
      0x18,                    // length 24
      0x01, 0x02, 0x03, 0x04,  // my discriminator
      0x00, 0x00, 0x00, 0x00,  // your discriminator 0
      0x00, 0x0F, 0x42, 0x40,  // desired min TX 1 s
      0x00, 0x00, 0xC3, 0x50,  // required min RX 50 ms
      0x00, 0x00, 0x00, 0x00,  // no echo
  };
  CHECK(encode(p) == expected);
  // Your Discriminator 0 is refused in Init: the round trip uses Down.
  p.state = State::Down;
  p.poll = false;
  p.final = true;
  p.demand = true;
  auto back = decode(encode(p));
  REQUIRE(back);
  CHECK(*back == p);
}

TEST_CASE("bfd packet: RFC 5880 6.8.6 packet checks are error values") {
  auto err = [](const Bytes& b) {
    auto r = decode(b);
    REQUIRE_FALSE(r);
    return r.error();
  };
  CHECK(err({}) == PacketError::TooShort);
  CHECK(err(Bytes(kUpPacket.begin(), kUpPacket.begin() + 23)) == PacketError::TooShort);
  CHECK(err(with(kUpPacket, 0, 0x40)) == PacketError::BadVersion);  // version 2
  CHECK(err({0x00}) == PacketError::BadVersion);                    // version 0, one octet
  CHECK(err(with(kUpPacket, 3, 23)) == PacketError::BadLength);
  CHECK(err(with(kUpPacket, 3, 28)) == PacketError::LengthExceedsPayload);
  CHECK(err(with(kUpPacket, 2, 0)) == PacketError::ZeroDetectMult);
  CHECK(err(with(kUpPacket, 1, 0xC1)) == PacketError::Multipoint);
  Bytes no_my = kUpPacket;
  std::fill(no_my.begin() + 4, no_my.begin() + 8, 0);
  CHECK(err(no_my) == PacketError::ZeroMyDiscriminator);
  Bytes no_your = kUpPacket;
  std::fill(no_your.begin() + 8, no_your.begin() + 12, 0);
  CHECK(err(no_your) == PacketError::YourDiscriminatorZeroWhileUp);
  // Down and AdminDown may carry Your Discriminator 0.
  CHECK(decode(with(no_your, 1, 0x40)));
  CHECK(decode(with(no_your, 1, 0x00)));
  // A bit with a 24-octet length: below the 26 an authenticated packet needs.
  CHECK(err(with(kUpPacket, 1, 0xC4)) == PacketError::BadLength);
  Bytes auth = with(with(kUpPacket, 1, 0xC4), 3, 26);
  auth.insert(auth.end(), {0x01, 0x02});  // auth type 1 (simple password), auth len 2
  CHECK(err(auth) == PacketError::AuthUnsupported);
}

TEST_CASE("bfd packet: octets past the Length field are ignored") {
  Bytes longer = kUpPacket;
  longer.push_back(0xEE);
  auto p = decode(longer);
  REQUIRE(p);
  CHECK(p->my_discriminator == 42);
}

TEST_CASE("bfd packet: every error has a name") {
  for (std::size_t i = 0; i < kPacketErrorCount; ++i)
    CHECK(to_string(static_cast<PacketError>(i)) != "?");
  CHECK(to_string(Diag::NeighborSignaledSessionDown) == "Neighbor Signaled Session Down");
  CHECK(to_string(State::AdminDown) == "AdminDown");
}

}  // namespace
}  // namespace herald::bgp::bfd

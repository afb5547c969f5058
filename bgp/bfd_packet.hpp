// The BFD Control packet (RFC 5880 4.1) as a value, its encoder and a decoder that applies the
// packet-level reception checks of RFC 5880 6.8.6 and returns each failure as a value. The
// checks that need a session (Your Discriminator lookup, AdminDown) live in bfd_session.hpp.
// herald does not implement BFD authentication (RFC 5880 6.7): packets with the A bit are
// refused with PacketError::AuthUnsupported.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

#include "base/expected.hpp"
#include "bgp/types.hpp"

namespace herald::bgp::bfd {

// RFC 5880 4.1 "Sta" values.
enum class State : std::uint8_t { AdminDown = 0, Down = 1, Init = 2, Up = 3 };
std::string_view to_string(State s);

// RFC 5880 4.1 diagnostic codes ("Diag").
enum class Diag : std::uint8_t {
  NoDiagnostic = 0,
  ControlDetectionTimeExpired = 1,
  EchoFunctionFailed = 2,
  NeighborSignaledSessionDown = 3,
  ForwardingPlaneReset = 4,
  PathDown = 5,
  ConcatenatedPathDown = 6,
  AdministrativelyDown = 7,
  ReverseConcatenatedPathDown = 8,
};
std::string_view to_string(Diag d);

inline constexpr std::uint8_t kVersion = 1;             // RFC 5880 4.1
inline constexpr std::size_t kControlPacketSize = 24;   // mandatory section, no authentication
inline constexpr std::uint16_t kControlPort = 3784;     // RFC 5881 4
inline constexpr std::uint16_t kSourcePortMin = 49152;  // RFC 5881 4
inline constexpr std::uint16_t kSourcePortMax = 65535;
inline constexpr int kRequiredTtl = 255;                // RFC 5881 5 (GTSM)

// One Control packet. Intervals are in microseconds, as on the wire.
struct ControlPacket {
  Diag diag = Diag::NoDiagnostic;
  State state = State::Down;
  bool poll = false;                  // P
  bool final = false;                 // F
  bool control_plane_independent = false;  // C
  bool demand = false;                // D
  std::uint8_t detect_mult = 3;
  std::uint32_t my_discriminator = 0;
  std::uint32_t your_discriminator = 0;
  std::uint32_t desired_min_tx_us = 0;
  std::uint32_t required_min_rx_us = 0;
  std::uint32_t required_min_echo_rx_us = 0;
  bool operator==(const ControlPacket&) const = default;
};

// Why a received packet was discarded (RFC 5880 6.8.6, in the order the RFC checks).
enum class PacketError : std::uint8_t {
  TooShort,                // fewer octets than the mandatory section
  BadVersion,              // version field is not 1
  BadLength,               // Length field below the minimum
  LengthExceedsPayload,    // Length field larger than the datagram
  ZeroDetectMult,
  Multipoint,              // M bit set
  ZeroMyDiscriminator,
  YourDiscriminatorZeroWhileUp,  // Your Discriminator 0 with State Init or Up
  AuthUnsupported,         // A bit set: herald has no authentication configured
  // Session-level checks (bfd_session.hpp); listed here so counters are one table.
  UnknownYourDiscriminator,  // no session with that local discriminator
  NoSession,                 // Your Discriminator 0 and no session for that source
  BadTtl,                    // received TTL/Hop Limit other than 255 (RFC 5881 5)
  SessionAdminDown,          // the local session is AdminDown
};
inline constexpr std::size_t kPacketErrorCount = 13;
std::string_view to_string(PacketError e);

// Encodes the 24-octet mandatory section (A and M bits clear, Length 24).
Bytes encode(const ControlPacket& p);
// Decodes a datagram. Trailing octets past the Length field are ignored (RFC 5880 6.8.6 only
// refuses a Length larger than the payload).
Expected<ControlPacket, PacketError> decode(std::span<const std::uint8_t> datagram);

}  // namespace herald::bgp::bfd

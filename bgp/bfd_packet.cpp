#include "bgp/bfd_packet.hpp"

#include "bgp/cursor.hpp"
#include "bgp/writer.hpp"

namespace herald::bgp::bfd {

namespace {
// RFC 5880 4.1 flag bits of the second octet.
constexpr std::uint8_t kFlagPoll = 0x20;
constexpr std::uint8_t kFlagFinal = 0x10;
constexpr std::uint8_t kFlagCpi = 0x08;
constexpr std::uint8_t kFlagAuth = 0x04;
constexpr std::uint8_t kFlagDemand = 0x02;
constexpr std::uint8_t kFlagMultipoint = 0x01;
}  // namespace

std::string_view to_string(State s) {
  switch (s) {
    case State::AdminDown: return "AdminDown";
    case State::Down: return "Down";
    case State::Init: return "Init";
    case State::Up: return "Up";
  }
  return "?";
}

std::string_view to_string(Diag d) {
  switch (d) {
    case Diag::NoDiagnostic: return "No Diagnostic";
    case Diag::ControlDetectionTimeExpired: return "Control Detection Time Expired";
    case Diag::EchoFunctionFailed: return "Echo Function Failed";
    case Diag::NeighborSignaledSessionDown: return "Neighbor Signaled Session Down";
    case Diag::ForwardingPlaneReset: return "Forwarding Plane Reset";
    case Diag::PathDown: return "Path Down";
    case Diag::ConcatenatedPathDown: return "Concatenated Path Down";
    case Diag::AdministrativelyDown: return "Administratively Down";
    case Diag::ReverseConcatenatedPathDown: return "Reverse Concatenated Path Down";
  }
  return "Unknown Diagnostic";
}

std::string_view to_string(PacketError e) {
  switch (e) {
    case PacketError::TooShort: return "too short";
    case PacketError::BadVersion: return "bad version";
    case PacketError::BadLength: return "bad length";
    case PacketError::LengthExceedsPayload: return "length exceeds payload";
    case PacketError::ZeroDetectMult: return "zero detect multiplier";
    case PacketError::Multipoint: return "multipoint bit set";
    case PacketError::ZeroMyDiscriminator: return "zero my discriminator";
    case PacketError::YourDiscriminatorZeroWhileUp: return "zero your discriminator in Init/Up";
    case PacketError::AuthUnsupported: return "auth unsupported";
    case PacketError::UnknownYourDiscriminator: return "unknown your discriminator";
    case PacketError::NoSession: return "no session";
    case PacketError::BadTtl: return "bad ttl";
    case PacketError::SessionAdminDown: return "session admin down";
  }
  return "?";
}

Bytes encode(const ControlPacket& p) {
  Bytes out;
  out.reserve(kControlPacketSize);
  Writer w(out);
  w.u8(static_cast<std::uint8_t>((kVersion << 5) | (static_cast<std::uint8_t>(p.diag) & 0x1f)));
  std::uint8_t flags = static_cast<std::uint8_t>(static_cast<std::uint8_t>(p.state) << 6);
  if (p.poll) flags |= kFlagPoll;
  if (p.final) flags |= kFlagFinal;
  if (p.control_plane_independent) flags |= kFlagCpi;
  if (p.demand) flags |= kFlagDemand;
  w.u8(flags);
  w.u8(p.detect_mult);
  w.u8(static_cast<std::uint8_t>(kControlPacketSize));
  w.u32(p.my_discriminator);
  w.u32(p.your_discriminator);
  w.u32(p.desired_min_tx_us);
  w.u32(p.required_min_rx_us);
  w.u32(p.required_min_echo_rx_us);
  return out;
}

Expected<ControlPacket, PacketError> decode(std::span<const std::uint8_t> datagram) {
  Cursor c(datagram);
  // The version is checked before the size so that a short packet of a future version is
  // reported as what it is.
  if (datagram.empty()) return unexpected(PacketError::TooShort);
  const std::uint8_t vers_diag = c.u8();
  if ((vers_diag >> 5) != kVersion) return unexpected(PacketError::BadVersion);
  if (datagram.size() < kControlPacketSize) return unexpected(PacketError::TooShort);
  const std::uint8_t flags = c.u8();
  ControlPacket p;
  p.diag = static_cast<Diag>(vers_diag & 0x1f);
  p.state = static_cast<State>(flags >> 6);
  p.poll = (flags & kFlagPoll) != 0;
  p.final = (flags & kFlagFinal) != 0;
  p.control_plane_independent = (flags & kFlagCpi) != 0;
  p.demand = (flags & kFlagDemand) != 0;
  const bool auth = (flags & kFlagAuth) != 0;
  p.detect_mult = c.u8();
  const std::uint8_t length = c.u8();
  p.my_discriminator = c.u32();
  p.your_discriminator = c.u32();
  p.desired_min_tx_us = c.u32();
  p.required_min_rx_us = c.u32();
  p.required_min_echo_rx_us = c.u32();
  if (!c.ok()) return unexpected(PacketError::TooShort);  // unreachable after the size check

  // RFC 5880 6.8.6, in order. With the A bit the minimum length is 26 (mandatory section plus
  // the smallest authentication section).
  if (length < (auth ? kControlPacketSize + 2 : kControlPacketSize)) return unexpected(PacketError::BadLength);
  if (length > datagram.size()) return unexpected(PacketError::LengthExceedsPayload);
  if (p.detect_mult == 0) return unexpected(PacketError::ZeroDetectMult);
  if ((flags & kFlagMultipoint) != 0) return unexpected(PacketError::Multipoint);
  if (p.my_discriminator == 0) return unexpected(PacketError::ZeroMyDiscriminator);
  if (p.your_discriminator == 0 && (p.state == State::Init || p.state == State::Up))
    return unexpected(PacketError::YourDiscriminatorZeroWhileUp);
  // "If the A bit is set and no authentication is in use (bfd.AuthType is zero), the packet
  // MUST be discarded."
  if (auth) return unexpected(PacketError::AuthUnsupported);
  return p;
}

}  // namespace herald::bgp::bfd

// The BGP-4 wire codec: pure functions over byte spans. No I/O, no clock, no globals.
// Decoding returns a typed message or the NOTIFICATION to send (RFC 4271 6, RFC 7606);
// encoding never fails for valid input (invalid input is a programming error and aborts).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/expected.hpp"
#include "bgp/message.hpp"

namespace herald::bgp {

using ByteSpan = std::span<const std::uint8_t>;

// What the session negotiated; both directions use it.
struct CodecOptions {
  bool four_octet_as = true;      // RFC 6793: both sides sent the capability
  bool extended_message = false;  // RFC 8654: both sides sent the capability -> 65535 max
  // Internal peer. When false (eBGP), a received LOCAL_PREF is discarded (RFC 7606 7.5) and
  // the encoder leaves LOCAL_PREF out (RFC 4271 5.1.5).
  bool ibgp = false;
  std::size_t max_message_size() const {
    return extended_message ? kMaxExtendedMessageSize : kMaxMessageSize;
  }
};

// ---- Framing (RFC 4271 4.1, 6.1) ----
// Turns a TCP byte stream into whole messages. Contract: append() the bytes read from the
// socket, then call next() until it returns NeedMore. A header error (bad marker 1/1, bad
// length 1/2 with the length as data, bad type 1/3 with the type as data) is sticky: the session
// must send the NOTIFICATION and close.
class Framer {
 public:
  explicit Framer(std::size_t max_message_size = kMaxMessageSize) : max_(max_message_size) {}
  void set_max_message_size(std::size_t m) { max_ = m; }
  void append(ByteSpan bytes);

  // `Message` here names a status, not the message variant: -Wshadow is silenced for it only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
  enum class Status { NeedMore, Message, Error };
#pragma GCC diagnostic pop
  struct Frame {
    Status status = Status::NeedMore;
    MessageType type = MessageType::Keepalive;
    Bytes body;           // the message without its 19-octet header (valid for Message)
    Notification error;   // valid for Error
  };
  Frame next();
  std::size_t buffered() const { return buf_.size() - pos_; }

 private:
  Bytes buf_;
  std::size_t pos_ = 0;
  std::size_t max_;
  std::optional<Notification> failed_;
};

// ---- Decoding ----
// RFC 7606 outcome of an UPDATE whose problems did not need a session reset.
enum class ErrorAction : std::uint8_t {
  None = 0,
  AttributeDiscard = 1,  // a bad attribute was dropped; the routes stand
  TreatAsWithdraw = 2,   // every NLRI (classic and MP_REACH) in the UPDATE counts as withdrawn
};
struct Decoded {
  Message message;
  ErrorAction action = ErrorAction::None;
  std::vector<std::string> problems;  // one human-readable line per RFC 7606 finding
};
// Decodes one message body (as produced by Framer). Session-reset errors come back as the
// NOTIFICATION to send, with the code, subcode and data the RFCs name.
Expected<Decoded, Notification> decode(MessageType type, ByteSpan body, const CodecOptions& opts);

// Meaning checks of a received OPEN against our side (RFC 4271 6.2, RFC 6793, RFC 9234).
struct OpenPolicy {
  std::uint32_t local_as = 0;
  std::uint32_t local_bgp_id = 0;
  std::optional<std::uint32_t> peer_as;           // nullopt: accept any AS
  std::vector<Family> required_families;          // missing -> 2/7 Unsupported Capability
  std::optional<Role> local_role;                 // when set, check RFC 9234 role pairing
  bool strict_role = false;                       // peer must send a role
  bool require_four_octet_as = false;
};
// nullopt when acceptable; otherwise the NOTIFICATION (2/1 with the supported version as data,
// 2/2, 2/3, 2/6, 2/7 with the missing capability as data, 2/11).
std::optional<Notification> validate_open(const Open& open, const OpenPolicy& policy);

// ---- Encoding ----
// A whole message with its header. Attributes go out in ascending type order with
// MP_REACH_NLRI / MP_UNREACH_NLRI first; the extended-length bit only where needed.
Bytes encode(const Message& msg, const CodecOptions& opts);
Bytes encode_keepalive();

// Announce `prefixes` of one family with `attrs` (which must not carry NLRI or MP_* attributes),
// packed into as few UPDATEs as fit opts.max_message_size(). IPv4 uses classic NLRI with a
// NEXT_HOP attribute set from `next_hop`; IPv6 uses MP_REACH_NLRI with `next_hop` and optional
// `link_local` next hop.
std::vector<Bytes> encode_announcements(Family family, const PathAttributes& attrs,
                                        const IpAddress& next_hop,
                                        const std::optional<IpAddress>& link_local,
                                        std::span<const Prefix> prefixes, const CodecOptions& opts);
// Withdraw `prefixes` of one family, packed into as few UPDATEs as fit.
std::vector<Bytes> encode_withdrawals(Family family, std::span<const Prefix> prefixes,
                                      const CodecOptions& opts);
Bytes encode_end_of_rib(Family family, const CodecOptions& opts);

}  // namespace herald::bgp

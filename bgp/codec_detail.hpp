// Internal pieces shared by the codec's translation units (not part of the public contract).
#pragma once
#include <string>

#include "bgp/codec.hpp"
#include "bgp/cursor.hpp"
#include "bgp/writer.hpp"

namespace herald::bgp::detail {

// RFC 4271 4.1 minimum total lengths (header included) per message type.
inline constexpr std::size_t kMinOpenSize = 29;
inline constexpr std::size_t kMinUpdateSize = 23;
inline constexpr std::size_t kMinNotificationSize = 21;
inline constexpr std::size_t kKeepaliveSize = 19;
inline constexpr std::size_t kRouteRefreshSize = 23;

// 1/2 Bad Message Length; the data is the 2-octet length field (RFC 4271 6.1).
Notification bad_message_length(std::size_t total_length);

// A successful decode with no findings.
inline Decoded clean(Message m) { return Decoded{std::move(m), ErrorAction::None, {}}; }

// Per-message decoders over the body (the message without its header).
Expected<Decoded, Notification> decode_open(ByteSpan body);
Expected<Decoded, Notification> decode_update(ByteSpan body, const CodecOptions& opts);

// Message encoders: append the body (no header) to `w`.
void encode_open_body(Writer& w, const Open& open);
void encode_update_body(Writer& w, const Update& update, const CodecOptions& opts);

// Starts a message: marker and type, with the length patched by finish_message().
std::size_t begin_message(Writer& w, MessageType type);
void finish_message(Bytes& out, std::size_t start, const CodecOptions& opts);

// NLRI (RFC 4271 4.3): prefixes of `afi` packed as <length octet, minimal address octets>.
// Fails (nullopt) when a prefix overruns the field or is longer than the family allows.
std::optional<std::vector<Prefix>> decode_prefixes(Cursor c, Afi afi);
inline void write_prefix(Writer& w, const Prefix& p) {
  w.u8(p.length);
  w.bytes(std::span<const std::uint8_t>(p.addr.bytes).first(p.wire_bytes()));
}

std::string hex(ByteSpan b);

}  // namespace herald::bgp::detail

namespace herald::bgp::detail {

// RFC 4456 route-reflection attribute types (no AttrType: herald never reflects routes).
inline constexpr std::uint8_t kOriginatorId = 9;
inline constexpr std::uint8_t kClusterList = 10;

// What decoding the path attributes of one UPDATE has found so far (RFC 7606 outcomes).
struct AttrDecodeState {
  const CodecOptions& opts;
  PathAttributes& attrs;
  ErrorAction action = ErrorAction::None;
  std::vector<std::string> problems;
  std::optional<Notification> reset;  // set: stop and send this

  // Records a finding; the UPDATE's action is the most severe one seen.
  void note(ErrorAction a, std::string why) {
    if (a > action) action = a;
    problems.push_back(std::move(why));
  }
};

// Decodes one attribute (flags without the extended-length bit, the type, its value and the
// whole attribute as received for NOTIFICATION data) into st.attrs, applying RFC 7606 7.
void decode_attribute(AttrDecodeState& st, std::uint8_t flags, std::uint8_t type, Cursor value,
                      ByteSpan whole);
std::string attr_name(std::uint8_t type);

// Reads AS_PATH / AS4_PATH segments of `as_size` octets per AS; nullopt + reason if malformed.
std::optional<AsPath> decode_as_path(Cursor c, std::size_t as_size, std::string& why);

}  // namespace herald::bgp::detail

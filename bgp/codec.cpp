// Entry points of the codec: decode() and encode() dispatch per message type; the small
// messages (KEEPALIVE, NOTIFICATION, ROUTE-REFRESH) are handled here in full.
#include "bgp/codec.hpp"

#include <cstdlib>

#include "bgp/codec_detail.hpp"

namespace herald::bgp {

namespace {

Expected<Decoded, Notification> decode_keepalive(ByteSpan body) {
  if (!body.empty()) return unexpected(detail::bad_message_length(kHeaderSize + body.size()));
  return detail::clean(Keepalive{});
}

Expected<Decoded, Notification> decode_notification(ByteSpan body) {
  Cursor c(body);
  Notification n;
  n.code = c.u8();
  n.subcode = c.u8();
  if (!c.ok()) return unexpected(detail::bad_message_length(kHeaderSize + body.size()));
  auto data = c.rest();
  n.data.assign(data.begin(), data.end());
  return detail::clean(std::move(n));
}

// RFC 2918 3 / RFC 7313 3: AFI (2), message subtype (1, formerly reserved), SAFI (1).
Expected<Decoded, Notification> decode_route_refresh(ByteSpan body) {
  if (body.size() != 4) {
    // RFC 7313 5: 7/1 carrying the complete ROUTE-REFRESH message, header included.
    Bytes whole(16, 0xFF);
    Writer w(whole);
    w.u16(static_cast<std::uint16_t>(std::min<std::size_t>(kHeaderSize + body.size(), 0xFFFF)));
    w.u8(static_cast<std::uint8_t>(MessageType::RouteRefresh));
    w.bytes(body);
    return unexpected(Notification::make(ErrorCode::RouteRefreshMessageError,
                                         RouteRefreshSubcode::InvalidMessageLength, std::move(whole)));
  }
  Cursor c(body);
  RouteRefresh rr;
  rr.family.afi = static_cast<Afi>(c.u16());
  // Subtypes 3..254 are unassigned and 255 reserved: RFC 7313 4 says ignore such messages;
  // they are returned as-is and the session decides.
  rr.subtype = static_cast<RouteRefreshSubtype>(c.u8());
  rr.family.safi = static_cast<Safi>(c.u8());
  return detail::clean(rr);
}

}  // namespace

Expected<Decoded, Notification> decode(MessageType type, ByteSpan body, const CodecOptions& opts) {
  switch (type) {
    case MessageType::Open: return detail::decode_open(body);
    case MessageType::Update: return detail::decode_update(body, opts);
    case MessageType::Notification: return decode_notification(body);
    case MessageType::Keepalive: return decode_keepalive(body);
    case MessageType::RouteRefresh: return decode_route_refresh(body);
  }
  return unexpected(Notification::make(ErrorCode::MessageHeaderError, HeaderSubcode::BadMessageType,
                                       Bytes{static_cast<std::uint8_t>(type)}));
}

namespace detail {

std::size_t begin_message(Writer& w, MessageType type) {
  const std::size_t start = w.size();
  for (int i = 0; i < 16; ++i) w.u8(0xFF);
  w.u16(0);  // patched by finish_message
  w.u8(static_cast<std::uint8_t>(type));
  return start;
}

void finish_message(Bytes& out, std::size_t start, const CodecOptions& opts) {
  const std::size_t len = out.size() - start;
  // A message longer than the negotiated maximum is a caller bug (the packers never make one).
  if (len > opts.max_message_size()) std::abort();
  out[start + 16] = static_cast<std::uint8_t>(len >> 8);
  out[start + 17] = static_cast<std::uint8_t>(len);
}

}  // namespace detail

Bytes encode(const Message& msg, const CodecOptions& opts) {
  Bytes out;
  Writer w(out);
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Open>) {
          const auto start = detail::begin_message(w, MessageType::Open);
          detail::encode_open_body(w, m);
          detail::finish_message(out, start, opts);
        } else if constexpr (std::is_same_v<T, Update>) {
          const auto start = detail::begin_message(w, MessageType::Update);
          detail::encode_update_body(w, m, opts);
          detail::finish_message(out, start, opts);
        } else if constexpr (std::is_same_v<T, Notification>) {
          const auto start = detail::begin_message(w, MessageType::Notification);
          w.u8(m.code);
          w.u8(m.subcode);
          // RFC 8654 4: data that would not fit is truncated rather than dropped.
          const std::size_t room = opts.max_message_size() - detail::kMinNotificationSize;
          w.bytes(ByteSpan(m.data).first(std::min(room, m.data.size())));
          detail::finish_message(out, start, opts);
        } else if constexpr (std::is_same_v<T, Keepalive>) {
          const auto start = detail::begin_message(w, MessageType::Keepalive);
          detail::finish_message(out, start, opts);
        } else {
          const auto start = detail::begin_message(w, MessageType::RouteRefresh);
          w.u16(static_cast<std::uint16_t>(m.family.afi));
          w.u8(static_cast<std::uint8_t>(m.subtype));
          w.u8(static_cast<std::uint8_t>(m.family.safi));
          detail::finish_message(out, start, opts);
        }
      },
      msg);
  return out;
}

Bytes encode_keepalive() { return encode(Keepalive{}, CodecOptions{}); }

}  // namespace herald::bgp
